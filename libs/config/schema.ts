// The one schema for every option of every scalemesh service: types, ranges,
// defaults and a one-line description each. Env names, flags, coercion and the
// --help-config table are all derived from it (see option-catalog.ts), so a
// new option is one line here.
import { z } from "zod";
import { STRATEGY_NAMES, type StrategyName } from "../balancing/placement-stack.js";
import { parseEndpointUri, registrationUriError } from "../discovery/endpoint-uri.js";
import { checkPostgresUrl } from "../ledger/postgres-url.js";

// ---- option builders: one per kind of value, so ranges read the same everywhere

const port = (defaultPort: number, description: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(65535)
    .meta({ allowed: "an integer from 0 to 65535 (0 = pick a free port)" })
    .default(defaultPort)
    .describe(description);

const host = (description: string) => z.string().min(1).default("127.0.0.1").describe(description);

/** A discovery URI (static://, dns+srv://, consul://, etcd://, k8s://); libs/discovery checks the scheme. */
const DISCOVERY_URI = /^[a-z][a-z0-9+.-]*:\/\/\S+$/;
const DISCOVERY_URI_OR_NONE = /^$|^[a-z][a-z0-9+.-]*:\/\/\S+$/;
const DISCOVERY_ALLOWED = "a discovery URI such as static://host:port,host:port or dns+srv://name";

/** Beyond the shape: the scheme's own parser says what is wrong (a port missing, an unknown query key). */
const parsesAsUri =
  (check: (uri: string) => string | undefined) => (value: string, ctx: z.RefinementCtx) => {
    // A value without a scheme is already refused by the shape check, with the general message.
    if (!DISCOVERY_URI.test(value)) return;
    const error = check(value);
    if (error !== undefined) ctx.addIssue({ code: "custom", message: error });
  };
const uriError = (uri: string): string | undefined => {
  const parsed = parseEndpointUri(uri);
  return parsed.ok ? undefined : parsed.error;
};

const discoveryUri = (defaultUri: string, description: string) =>
  z
    .string()
    .regex(DISCOVERY_URI)
    .superRefine(parsesAsUri(uriError))
    .meta({ allowed: DISCOVERY_ALLOWED })
    .default(defaultUri)
    .describe(description);

const optionalDiscoveryUri = (defaultUri: string, description: string) =>
  z
    .string()
    .regex(DISCOVERY_URI_OR_NONE)
    .superRefine(parsesAsUri(uriError))
    .meta({ allowed: `"" (none) or ${DISCOVERY_ALLOWED}` })
    .default(defaultUri)
    .describe(description);

const registrationUri = (description: string) =>
  z
    .string()
    .regex(DISCOVERY_URI_OR_NONE)
    .superRefine(parsesAsUri(registrationUriError))
    .meta({ allowed: '"" (none), consul://agent:8500/service-name or etcd://host:2379/key/prefix' })
    .default("")
    .describe(description);

const advertiseHost = (description: string) => z.string().default("").describe(description);

/** Durations in seconds may be fractional so tests can run fast clocks (heartbeat 0.1). */
const seconds = (defaultSec: number, description: string) =>
  z.number().positive().default(defaultSec).describe(description);

const secondsOrZero = (defaultSec: number, description: string) =>
  z.number().min(0).default(defaultSec).describe(description);

const millis = (defaultMs: number, description: string) =>
  z.number().int().min(1).default(defaultMs).describe(description);

const count = (min: number, defaultCount: number, description: string) =>
  z.number().int().min(min).default(defaultCount).describe(description);

const ratio = (defaultRatio: number, description: string) =>
  z.number().min(0).max(1).default(defaultRatio).describe(description);

const stringList = (description: string) =>
  z.array(z.string().min(1)).readonly().default([]).describe(description);

// ---- the sections: each rejects unknown keys (typos) and fills every missing
// key with its default, so an absent or partial section is fine.

const coordinatorSection = z
  .strictObject({
    host: host("Address the coordinator listens on."),
    grpc_port: port(7070, "Coordinator gRPC port (WorkerSession, Place, WatchCluster, Admin)."),
    http_port: port(7071, "Coordinator HTTP port (metrics, health, Connect JSON, page)."),
    register: registrationUri(
      'Where this coordinator registers itself (consul://… or etcd://…); "" registers nowhere.',
    ),
    advertise_host: advertiseHost(
      'The host others dial to reach this coordinator; "" = the listen host, or this machine\'s name when that is 0.0.0.0.',
    ),
    heartbeat_interval_sec: seconds(1, "How often workers are asked to heartbeat."),
    reconnect_grace_sec: secondsOrZero(
      1.5,
      "How long a worker whose stream broke may take to come back before it is declared dead.",
    ),
    max_pending_tasks: count(
      0,
      10000,
      "Tasks that may wait for capacity before Assign is refused.",
    ),
    default_max_attempts: count(1, 3, "Attempts a task gets when its request names none."),
    default_task_timeout_sec: seconds(300, "Task timeout when its request names none."),
    dead_worker_retention_sec: secondsOrZero(
      300,
      "How long a dead worker stays visible in the cluster view.",
    ),
    optimizer: optionalDiscoveryUri(
      "static://127.0.0.1:7090",
      'Where to find the optimizer; "" runs without one.',
    ),
    retry_backoff_base_ms: millis(
      500,
      "Retry backoff before the 2nd attempt; doubles each attempt (full jitter).",
    ),
    retry_backoff_cap_ms: millis(30000, "Longest retry backoff."),
    recovery_grace_sec: secondsOrZero(
      10,
      "After a restart, how long workers have to reconnect and claim the tasks they still run before those go back to PENDING.",
    ),
  })
  .readonly()
  .prefault({});

/** "" (the SQLite file) or a postgres:// url; the parser says what is wrong with a bad one. */
const postgresUrl = (description: string) =>
  z
    .string()
    .superRefine((value, ctx) => {
      if (value === "") return;
      const checked = checkPostgresUrl(value);
      if (!checked.ok) ctx.addIssue({ code: "custom", message: checked.error });
    })
    .meta({
      allowed: '"" (the SQLite file at ledger.path) or postgres://user:password@host:5432/database',
    })
    .default("")
    .describe(description);

const ledgerSection = z
  .strictObject({
    url: postgresUrl(
      'The task ledger in PostgreSQL (postgres://user:password@host:5432/database); when set it wins over ledger.path. "" = the SQLite file.',
    ),
    path: z
      .string()
      .min(1)
      .default(".scalemesh/ledger.db")
      .describe(
        'The task ledger\'s SQLite file (":memory:" keeps it in memory: nothing survives a restart).',
      ),
    synchronous: z
      .enum(["off", "normal", "full"])
      .default("full")
      .describe(
        "SQLite synchronous level: full survives power loss, normal survives a process crash, off neither.",
      ),
    max_batch_rows: count(
      1,
      1000,
      "Rows written in one group commit before it is flushed at once.",
    ),
    leader_lease_sec: seconds(
      3,
      "With a PostgreSQL ledger: the leader coordinator's lease; it renews every third of it, and a standby takes over this long after the leader stops renewing.",
    ),
  })
  .readonly()
  .prefault({});

const balancerSection = z
  .strictObject({
    host: host("Address the balancer listens on."),
    grpc_port: port(7080, "Balancer gRPC port (Assign, AssignStream, Route, AwaitTask)."),
    http_port: port(7081, "Balancer HTTP port (metrics, health, Connect JSON)."),
    register: registrationUri(
      'Where this balancer registers itself (consul://… or etcd://…); "" registers nowhere.',
    ),
    advertise_host: advertiseHost(
      'The host others dial to reach this balancer; "" = the listen host, or this machine\'s name when that is 0.0.0.0.',
    ),
    coordinator: discoveryUri("static://127.0.0.1:7070", "Where to find the coordinator."),
    strategy: z
      .enum(STRATEGY_NAMES as [StrategyName, ...StrategyName[]])
      .default("least_loaded")
      .describe(
        "How the balancer picks among feasible workers (a request may name another in AssignRequest.strategy).",
      ),
    place_attempts: count(1, 3, "Candidate workers tried before a task is queued."),
    client_rate_per_sec: z
      .number()
      .min(0)
      .default(0)
      .describe("Assigns per second each client may make (a token bucket); 0: no limit."),
    client_burst: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("Assigns a client may make at once after being idle; 0: one second's worth."),
    client_max_in_flight: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("Assigns of one client in progress at once; 0: no limit."),
    hash_balance_factor: z
      .number()
      .min(1)
      .max(10)
      .default(1.25)
      .describe(
        "Consistent hashing with bounded loads: no worker above ceil(factor x average) in flight (HAProxy's hash-balance-factor / 100).",
      ),
    hash_overflow_candidates: count(
      0,
      0,
      "When a key's home worker is at its bound, the least loaded of this many of the key's next workers takes the task; 0 = all of them (keeps every worker near the mean).",
    ),
    sticky_ttl_sec: seconds(
      300,
      "Sticky: a key keeps its worker until it has not been used for this long.",
    ),
    region_failover_order: stringList(
      "Region-aware: regions to fail over to, in order, when the preferred region has no capacity.",
    ),
    failback_delay_sec: secondsOrZero(
      30,
      "Region-aware: how long the preferred region must have had capacity before traffic returns to it.",
    ),
  })
  .readonly()
  .prefault({});

const optimizerSection = z
  .strictObject({
    host: host("Address the optimizer listens on."),
    grpc_port: port(7090, "Optimizer gRPC port (Observe, GetForecast, GetRecommendation, ...)."),
    http_port: port(7091, "Optimizer HTTP port (metrics, health, Connect JSON)."),
    register: registrationUri(
      'Where this optimizer registers itself (consul://… or etcd://…); "" registers nowhere.',
    ),
    advertise_host: advertiseHost(
      'The host others dial to reach this optimizer; "" = the listen host, or this machine\'s name when that is 0.0.0.0.',
    ),
    window_sec: seconds(60, "Load window the reactive recommendation averages over."),
    history_path: z
      .string()
      .default(".scalemesh/optimizer-history.json")
      .describe('Where the load history is kept across restarts ("" keeps it in memory only).'),
    save_interval_sec: seconds(10, "How often the load history is written to history_path."),
    default_lead_time_sec: secondsOrZero(
      5,
      "How far ahead the predictive count looks when the coordinator names no lead time.",
    ),
  })
  .readonly()
  .prefault({});

const workerSection = z
  .strictObject({
    coordinator: discoveryUri(
      "static://127.0.0.1:7070",
      "Where the worker agent finds the coordinator.",
    ),
    worker_id: z.string().default("").describe('Stable worker id; "" generates one at start-up.'),
    host: host("Address the worker agent's HTTP server listens on."),
    http_port: port(7101, "Worker agent HTTP port (health, metrics)."),
    register: registrationUri(
      'Where this worker agent registers itself, checked through its HTTP /readyz (consul://… or etcd://…); "" registers nowhere.',
    ),
    advertise_host: advertiseHost(
      "The host others dial to reach this worker agent's HTTP port; \"\" = the listen host, or this machine's name when that is 0.0.0.0.",
    ),
    slots: z.number().int().min(1).max(1024).default(4).describe("Tasks this worker runs at once."),
    capabilities: stringList("Capabilities this worker offers; tasks may require some."),
    labels: z
      .record(z.string().min(1), z.string())
      .readonly()
      .default({})
      .describe("Free-form key=value labels reported with the worker."),
    handler: z
      .string()
      .regex(/^(|module:.+|exec:.+)$/)
      .meta({ allowed: '"" (built-in), module:<specifier> or exec:<command>' })
      .default("")
      .describe("What runs a task: a module to import or a command to execute."),
    task_timeout_sec: seconds(300, "Longest a task may run on this worker."),
    reconnect_initial_ms: millis(200, "First reconnect delay after the session breaks."),
    reconnect_max_ms: millis(5000, "Largest reconnect delay (the backoff doubles up to it)."),
    join_token_file: z
      .string()
      .default("")
      .describe(
        'A file holding this worker\'s join token ("scalemesh token create"), for a coordinator that asks for one.',
      ),
  })
  .readonly()
  .prefault({});

const rpcSection = z
  .strictObject({
    max_message_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024)
      .describe("Largest gRPC message sent or received."),
    max_payload_bytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe("Largest task payload accepted; must fit in a message with its envelope."),
    default_deadline_ms: millis(10000, "Deadline for unary calls that set none."),
    keepalive_time_ms: millis(10000, "Idle time before a keepalive ping."),
    keepalive_timeout_ms: millis(5000, "How long a keepalive ping may go unanswered."),
    max_streams_per_connection: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe(
        "Calls one client connection may have open at once on a gRPC port; one more is answered RESOURCE_EXHAUSTED.",
      ),
    shutdown_grace_sec: secondsOrZero(10, "How long in-flight calls get to finish on shutdown."),
  })
  .readonly()
  .prefault({});

const tlsFile = (description: string) =>
  z
    .string()
    .default("")
    .describe(`${description} "{service}" in the path is the service's own name.`);

const tlsSection = z
  .strictObject({
    cert_file: tlsFile(
      "This service's certificate (PEM); with key_file and ca_file, every port speaks TLS.",
    ),
    key_file: tlsFile("Its private key (PEM)."),
    ca_file: tlsFile("The CA that signed every peer's certificate (PEM)."),
    require_client_cert: z
      .boolean()
      .default(true)
      .describe("Servers refuse a peer without a certificate that CA signed (mutual TLS)."),
    server_name: z
      .string()
      .default("")
      .describe(
        'Clients check this name in the server\'s certificate; "" checks the host they dial.',
      ),
    reload_sec: seconds(
      10,
      "How often the certificate files are read again, so a rotation needs no restart.",
    ),
    allow_plaintext: z
      .boolean()
      .default(false)
      .describe("Let a service listen on a non-loopback address without TLS."),
  })
  .readonly()
  .prefault({});

const authSection = z
  .strictObject({
    token_public_key_file: z
      .string()
      .default("")
      .describe(
        'Coordinator and balancer: the public key tokens are signed for ("scalemesh token keygen"); set, workers need a join token and callers a role token.',
      ),
    revoked_tokens_file: z
      .string()
      .default("")
      .describe(
        "Coordinator and balancer: token ids refused from now on, one per line; read again when it changes.",
      ),
    token_file: z
      .string()
      .default("")
      .describe(
        'CLI, balancer, coordinator: a file holding the role token their calls carry ("scalemesh token create --role ..."; service for the balancer and coordinator).',
      ),
    certificate_roles: z
      .record(z.string().min(1), z.enum(["viewer", "operator", "admin", "client", "service"]))
      // The mesh's own services as `scalemesh certs init` names them; a worker's certificate holds none.
      .default({ "scalemesh-balancer": "service", "scalemesh-coordinator": "service" })
      .describe(
        "With roles on and client certificates required: a caller without a role token whose certificate has a name here (subject CN, DNS or URI SAN) holds its role.",
      ),
    max_sessions_per_token: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("Coordinator: worker sessions open at once under one join token; 0: no limit."),
  })
  .readonly()
  .prefault({});

const telemetrySection = z
  .strictObject({
    log_level: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace"])
      .default("info")
      .describe("Lowest log level written."),
    trace_sample_ratio: ratio(1, "Fraction of traces sampled."),
  })
  .readonly()
  .prefault({});

/** Exactly the keys of the original system's system_config.yaml, so an existing file keeps working. */
const scalingSection = z
  .strictObject({
    deployment_mode: z
      .enum(["local", "docker", "kubernetes", "external"])
      .default("local")
      .describe("Where workers run (the provider that starts and stops them)."),
    discovery_method: z
      .enum(["static", "dns", "consul", "etcd", "k8s"])
      .default("static")
      .describe("How workers are discovered."),
    min_workers: count(0, 2, "Fewest workers the autoscaler keeps."),
    max_workers: count(1, 10, "Most workers the autoscaler starts."),
    sync_interval_sec: seconds(15, "How often the fleet is reconciled with the provider."),
    heartbeat_timeout_sec: seconds(
      3,
      "Silence after which a worker is declared dead and its tasks re-placed (3 heartbeat intervals by default).",
    ),
    worker_prefix: z
      .string()
      .min(1)
      .default("worker")
      .describe("Name prefix of workers the provider starts."),
    static_workers: stringList("Fixed worker addresses (host:port) for static discovery."),
    scale_up_threshold: ratio(0.8, "Utilisation above which the fleet grows."),
    scale_down_threshold: ratio(0.3, "Utilisation below which the fleet shrinks."),
    cool_down_sec: secondsOrZero(
      60,
      "Least time after any scaling action before a scale-down (scale-ups are not delayed).",
    ),
    burst_factor: z
      .number()
      .min(1)
      .default(1.5)
      .describe("In burst mode the fleet may grow to ceil(max_workers x burst_factor)."),
    max_burst_duration_sec: seconds(
      300,
      "Longest a burst is treated as one before it is the new normal.",
    ),
    enable_failure_detection: z
      .boolean()
      .default(true)
      .describe("Detect dead workers from missed heartbeats."),
    enable_auto_recovery: z
      .boolean()
      .default(true)
      .describe("Replace dead workers and reassign their tasks."),
    max_recovery_attempts: count(0, 3, "Times a dead worker is replaced before giving up."),
    region: z.string().min(1).default("local").describe("Region this deployment runs in."),
    zone: z.string().min(1).default("local-a").describe("Zone this deployment runs in."),
  })
  .readonly()
  .prefault({});

/**
 * The autoscaler beyond the seed's `scaling` keys: which signals it follows,
 * the HPA behaviour knobs (stabilization windows, rate policies) and the
 * provider's settings. The target slot utilization and the per-direction
 * tolerance come from scaling.scale_down_threshold and scale_up_threshold.
 */
const autoscalerSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Run the autoscaling loop in the coordinator (scalemesh up turns it on with the local provider).",
      ),
    predictive: z
      .boolean()
      .default(true)
      .describe(
        "Scale out ahead of the optimizer's demand forecast (coordinator.optimizer must be set); scale-down stays reactive.",
      ),
    target_cpu_utilization: ratio(
      0,
      "Mean worker CPU (fraction of a core) to aim for; 0 = CPU is not a signal.",
    ),
    target_memory_utilization: ratio(
      0,
      "Mean worker memory (fraction of its limit) to aim for; 0 = memory is not a signal.",
    ),
    worker_memory_limit_mb: z
      .number()
      .min(0)
      .default(0)
      .describe(
        "The memory one worker may use, what target_memory_utilization is a fraction of; 0 = unknown (memory is not a signal).",
      ),
    target_request_rate_per_worker: z
      .number()
      .min(0)
      .default(0)
      .describe("Tasks per second one worker should take; 0 = the arrival rate is not a signal."),
    target_pending_per_worker: z
      .number()
      .min(0)
      .default(0)
      .describe(
        "Pending tasks per worker to aim for (KEDA's queue length); 0 = queue depth counts only through slot utilization.",
      ),
    scale_up_stabilization_sec: secondsOrZero(
      0,
      "Scale up to the lowest recommendation of this window (HPA default 0: react at once).",
    ),
    scale_down_stabilization_sec: secondsOrZero(
      300,
      "Scale down to the highest recommendation of this window (HPA default 300 s: no flapping).",
    ),
    scale_up_max_workers: count(
      0,
      4,
      "Scale-up rate: at most this many workers more per scale_up_period_sec (0 = this policy is off).",
    ),
    scale_up_max_percent: z
      .number()
      .min(0)
      .default(100)
      .describe(
        "Scale-up rate: at most this percent more per scale_up_period_sec (0 = off); the larger of the two policies applies.",
      ),
    scale_up_period_sec: seconds(15, "The period of the scale-up rate policies."),
    scale_down_max_workers: count(
      0,
      0,
      "Scale-down rate: at most this many workers fewer per scale_down_period_sec (0 = this policy is off).",
    ),
    scale_down_max_percent: z
      .number()
      .min(0)
      .max(100)
      .default(100)
      .describe(
        "Scale-down rate: at most this percent fewer per scale_down_period_sec (0 = off); the larger of the two policies applies.",
      ),
    scale_down_period_sec: seconds(15, "The period of the scale-down rate policies."),
    hard_max_workers: count(
      0,
      0,
      "Never more workers than this, bursts included; 0 = ceil(max_workers x burst_factor).",
    ),
    scale_to_zero: z
      .boolean()
      .default(false)
      .describe(
        "With min_workers 0, let an idle fleet shrink to no workers; the first task wakes it.",
      ),
    worker_coordinator: optionalDiscoveryUri(
      "",
      'The discovery URI the workers it starts find this coordinator by; "" = coordinator.register if set, else static://<advertise_host>:<grpc_port>.',
    ),
    worker_start_timeout_sec: seconds(
      60,
      "A started worker that has not registered within this long counts as a failed start.",
    ),
    drain_timeout_sec: seconds(
      300,
      "How long a worker being removed may take to finish its tasks before it is stopped anyway.",
    ),
    local_slots: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(4)
      .describe("local provider: slots of each worker agent it starts."),
    local_handler: z
      .string()
      .default("")
      .describe(
        'local provider: the handler of each worker agent it starts ("" = the built-in echo).',
      ),
    docker_image: z
      .string()
      .default("scalemesh:latest")
      .describe("docker provider: the image worker containers run."),
    docker_network: z
      .string()
      .default("")
      .describe('docker provider: the network containers join ("" = the default bridge).'),
    docker_stop_timeout_sec: count(
      0,
      10,
      "docker provider: seconds a drained container gets to exit on stop before it is killed.",
    ),
    docker_pull: z
      .boolean()
      .default(false)
      .describe("docker provider: pull the image before starting containers."),
    docker_registry_username: z
      .string()
      .default("")
      .describe("docker provider: registry user for pulls (never logged)."),
    docker_registry_password: z
      .string()
      .default("")
      .describe("docker provider: registry password or token for pulls (never logged)."),
    kubernetes_namespace: z
      .string()
      .min(1)
      .default("default")
      .describe("kubernetes provider: the namespace of the worker Deployment."),
    kubernetes_deployment: z
      .string()
      .min(1)
      .default("scalemesh-worker")
      .describe("kubernetes provider: the worker Deployment whose scale it patches."),
    kubernetes_selector: z
      .string()
      .min(1)
      .default("app=scalemesh-worker")
      .describe("kubernetes provider: the label selector of the worker pods."),
  })
  .readonly()
  .prefault({});

const sectionsSchema = z.strictObject({
  coordinator: coordinatorSection,
  ledger: ledgerSection,
  balancer: balancerSection,
  optimizer: optimizerSection,
  worker: workerSection,
  rpc: rpcSection,
  tls: tlsSection,
  auth: authSection,
  telemetry: telemetrySection,
  scaling: scalingSection,
  autoscaler: autoscalerSection,
});

type Sections = z.output<typeof sectionsSchema>;

/**
 * Pairs of options whose values must stay ordered. Each check names both keys
 * so the error says which one to move; `relatedKey` lets the loader add where
 * the other value came from.
 */
const ORDERED_OPTIONS: ReadonlyArray<{
  lowerKey: string;
  upperKey: string;
  isStrict: boolean;
  read: (config: Sections) => readonly [lower: number, upper: number];
}> = [
  {
    lowerKey: "scaling.min_workers",
    upperKey: "scaling.max_workers",
    isStrict: false,
    read: (c) => [c.scaling.min_workers, c.scaling.max_workers],
  },
  {
    // Equal thresholds would make the autoscaler flap between up and down.
    lowerKey: "scaling.scale_down_threshold",
    upperKey: "scaling.scale_up_threshold",
    isStrict: true,
    read: (c) => [c.scaling.scale_down_threshold, c.scaling.scale_up_threshold],
  },
  {
    // A worker must get at least one heartbeat in before it is timed out.
    lowerKey: "coordinator.heartbeat_interval_sec",
    upperKey: "scaling.heartbeat_timeout_sec",
    isStrict: true,
    read: (c) => [c.coordinator.heartbeat_interval_sec, c.scaling.heartbeat_timeout_sec],
  },
  {
    // A payload at the limit must still fit in one message with the task around it.
    lowerKey: "rpc.max_payload_bytes",
    upperKey: "rpc.max_message_bytes",
    isStrict: true,
    read: (c) => [c.rpc.max_payload_bytes, c.rpc.max_message_bytes],
  },
  {
    lowerKey: "worker.reconnect_initial_ms",
    upperKey: "worker.reconnect_max_ms",
    isStrict: false,
    read: (c) => [c.worker.reconnect_initial_ms, c.worker.reconnect_max_ms],
  },
];

export const configSchema = sectionsSchema
  .superRefine((config, ctx) => {
    for (const { lowerKey, upperKey, isStrict, read } of ORDERED_OPTIONS) {
      const [lower, upper] = read(config);
      if (isStrict ? lower < upper : lower <= upper) continue;
      ctx.addIssue({
        code: "custom",
        path: lowerKey.split("."),
        message: `${isStrict ? "less than" : "at most"} ${upperKey}, which is ${upper}`,
        params: { relatedKey: upperKey },
      });
    }
  })
  .readonly();

/** Every option, fully defaulted and frozen. */
export type Config = z.infer<typeof configSchema>;

export type ConfigSectionName = keyof Config;
