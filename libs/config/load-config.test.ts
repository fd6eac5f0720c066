import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CONFIG_OPTIONS,
  configHelp,
  configSchema,
  extractConfigFlags,
  formatConfigIssue,
  loadConfig,
  loadConfigOrExit,
  type Config,
  type LoadResult,
} from "./index.js";

// ---- fixtures

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  /** Files written into a fresh temp dir, which is the cwd. */
  readonly files?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly argv?: readonly string[];
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "scalemesh-config-"));
  tempDirs.push(dir);
  return dir;
}

function load({ files = {}, env = {}, argv = [] }: Setup): LoadResult {
  const cwd = freshDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  return loadConfig({ argv, env, cwd });
}

function expectConfig(result: LoadResult): Config {
  if (!result.ok) throw new Error(`expected a config, got:\n${result.message}`);
  return result.config;
}

function expectMessageLines(result: LoadResult): string[] {
  if (result.ok) throw new Error("expected configuration problems, got a config");
  expect(result.message.split("\n")).toEqual([
    expect.stringMatching(/^invalid configuration \(\d+ problems?\):$/),
    ...result.issues.map((issue) => `  ${formatConfigIssue(issue)}`),
    "see 'scalemesh --help-config' for every option",
  ]);
  return result.issues.map(formatConfigIssue);
}

const yamlFile = (text: string) => ({ "scalemesh.yaml": text });

// ---- tests

describe("loadConfig defaults", () => {
  it("fills every option from the schema when no source says anything", () => {
    const result = load({});
    expect(expectConfig(result)).toEqual(configSchema.parse({}));
    expect(result.ok && result.sources).toEqual(["default"]);
  });

  it("has the documented defaults", () => {
    const config = expectConfig(load({}));
    expect(config.coordinator).toMatchObject({
      grpc_port: 7070,
      http_port: 7071,
      reconnect_grace_sec: 1.5,
    });
    expect(config.balancer).toMatchObject({
      grpc_port: 7080,
      strategy: "least_loaded",
      place_attempts: 3,
    });
    expect(config.worker).toMatchObject({
      http_port: 7101,
      slots: 4,
      capabilities: [],
      labels: {},
      handler: "",
    });
    expect(config.scaling).toMatchObject({
      min_workers: 2,
      max_workers: 10,
      region: "local",
      zone: "local-a",
    });
    expect(config.rpc.max_message_bytes).toBe(4194304);
  });

  it("returns a frozen config", () => {
    const config = expectConfig(load({}));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.scaling)).toBe(true);
    expect(Object.isFrozen(config.worker.capabilities)).toBe(true);
  });
});

describe("loadConfig precedence: default < file < env < flag", () => {
  const file = yamlFile("scaling:\n  min_workers: 3\n");
  const env = { SCALEMESH_SCALING_MIN_WORKERS: "4" };
  const argv = ["--scaling.min_workers=5"];
  const cases: ReadonlyArray<{
    name: string;
    setup: Setup;
    minWorkers: number;
    sources: string[];
  }> = [
    { name: "default alone", setup: {}, minWorkers: 2, sources: ["default"] },
    {
      name: "file over default",
      setup: { files: file },
      minWorkers: 3,
      sources: ["default", "file scalemesh.yaml"],
    },
    {
      name: "env over file",
      setup: { files: file, env },
      minWorkers: 4,
      sources: ["default", "file scalemesh.yaml", "env SCALEMESH_SCALING_MIN_WORKERS"],
    },
    {
      name: "flag over env and file",
      setup: { files: file, env, argv },
      minWorkers: 5,
      sources: [
        "default",
        "file scalemesh.yaml",
        "env SCALEMESH_SCALING_MIN_WORKERS",
        "flag --scaling.min_workers",
      ],
    },
    {
      name: "flag over file",
      setup: { files: file, argv },
      minWorkers: 5,
      sources: ["default", "file scalemesh.yaml", "flag --scaling.min_workers"],
    },
    {
      name: "flag over env",
      setup: { env, argv },
      minWorkers: 5,
      sources: ["default", "env SCALEMESH_SCALING_MIN_WORKERS", "flag --scaling.min_workers"],
    },
  ];
  it.each(cases)("$name", ({ setup, minWorkers, sources }) => {
    const result = load(setup);
    expect(expectConfig(result).scaling.min_workers).toBe(minWorkers);
    expect(result.ok && result.sources).toEqual(sources);
  });

  it("decides per option: a later source leaves the options it does not name alone", () => {
    const config = expectConfig(
      load({
        files: yamlFile(
          "scaling:\n  min_workers: 3\n  max_workers: 20\nbalancer:\n  strategy: round_robin\n",
        ),
        env: { SCALEMESH_SCALING_MIN_WORKERS: "4" },
      }),
    );
    expect(config.scaling).toMatchObject({ min_workers: 4, max_workers: 20 });
    expect(config.balancer.strategy).toBe("round_robin");
  });

  it("takes the file from --config over SCALEMESH_CONFIG over ./scalemesh.yaml", () => {
    const files = {
      "scalemesh.yaml": "worker:\n  slots: 1\n",
      "from-env.yaml": "worker:\n  slots: 2\n",
      "from-flag.yaml": "worker:\n  slots: 3\n",
    };
    const env = { SCALEMESH_CONFIG: "from-env.yaml" };
    expect(expectConfig(load({ files })).worker.slots).toBe(1);
    expect(expectConfig(load({ files, env })).worker.slots).toBe(2);
    expect(
      expectConfig(load({ files, env, argv: ["--config", "from-flag.yaml"] })).worker.slots,
    ).toBe(3);
    expect(expectConfig(load({ files, env, argv: ["--config=from-flag.yaml"] })).worker.slots).toBe(
      3,
    );
  });
});

describe("loadConfig coercion of env and flag text", () => {
  const cases: ReadonlyArray<{
    name: string;
    setup: Setup;
    pick: (config: Config) => unknown;
    expected: unknown;
  }> = [
    {
      name: "env integer",
      setup: { env: { SCALEMESH_SCALING_MIN_WORKERS: "3" } },
      pick: (c) => c.scaling.min_workers,
      expected: 3,
    },
    {
      name: "env fraction",
      setup: { env: { SCALEMESH_SCALING_SCALE_UP_THRESHOLD: "0.9" } },
      pick: (c) => c.scaling.scale_up_threshold,
      expected: 0.9,
    },
    {
      name: "env fractional seconds",
      setup: { env: { SCALEMESH_COORDINATOR_HEARTBEAT_INTERVAL_SEC: "0.25" } },
      pick: (c) => c.coordinator.heartbeat_interval_sec,
      expected: 0.25,
    },
    {
      name: "env false",
      setup: { env: { SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY: "false" } },
      pick: (c) => c.scaling.enable_auto_recovery,
      expected: false,
    },
    {
      name: "env 0 is false",
      setup: { env: { SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY: "0" } },
      pick: (c) => c.scaling.enable_auto_recovery,
      expected: false,
    },
    {
      name: "env 1 is true",
      setup: { env: { SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY: "1" } },
      pick: (c) => c.scaling.enable_auto_recovery,
      expected: true,
    },
    {
      name: "env TRUE is true",
      setup: { env: { SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY: "TRUE" } },
      pick: (c) => c.scaling.enable_auto_recovery,
      expected: true,
    },
    {
      name: "env enum",
      setup: { env: { SCALEMESH_BALANCER_STRATEGY: "round_robin" } },
      pick: (c) => c.balancer.strategy,
      expected: "round_robin",
    },
    {
      name: "env list from commas",
      setup: { env: { SCALEMESH_WORKER_CAPABILITIES: "gpu, avx" } },
      pick: (c) => c.worker.capabilities,
      expected: ["gpu", "avx"],
    },
    {
      name: "env empty list",
      setup: { env: { SCALEMESH_SCALING_STATIC_WORKERS: "" } },
      pick: (c) => c.scaling.static_workers,
      expected: [],
    },
    {
      name: "env map from k=v",
      setup: { env: { SCALEMESH_WORKER_LABELS: "zone=a,tier=gold" } },
      pick: (c) => c.worker.labels,
      expected: { zone: "a", tier: "gold" },
    },
    {
      name: "env empty string where allowed",
      setup: { env: { SCALEMESH_COORDINATOR_OPTIMIZER: "" } },
      pick: (c) => c.coordinator.optimizer,
      expected: "",
    },
    {
      name: "flag with space",
      setup: { argv: ["--scaling.max_workers", "7"] },
      pick: (c) => c.scaling.max_workers,
      expected: 7,
    },
    {
      name: "flag with dashes in the key",
      setup: { argv: ["--scaling.min-workers", "3"] },
      pick: (c) => c.scaling.min_workers,
      expected: 3,
    },
    {
      name: "flag with dashes and =",
      setup: { argv: ["--worker.task-timeout-sec=12.5"] },
      pick: (c) => c.worker.task_timeout_sec,
      expected: 12.5,
    },
    {
      name: "repeated list flags append",
      setup: {
        env: { SCALEMESH_WORKER_CAPABILITIES: "old" },
        argv: ["--worker.capabilities", "gpu", "--worker.capabilities=avx,sse"],
      },
      pick: (c) => c.worker.capabilities,
      expected: ["gpu", "avx", "sse"],
    },
    {
      name: "repeated map flags merge",
      setup: { argv: ["--worker.labels", "a=1", "--worker.labels=b=2"] },
      pick: (c) => c.worker.labels,
      expected: { a: "1", b: "2" },
    },
    {
      name: "bare boolean flag is true",
      setup: {
        env: { SCALEMESH_SCALING_ENABLE_FAILURE_DETECTION: "false" },
        argv: ["--scaling.enable-failure-detection"],
      },
      pick: (c) => c.scaling.enable_failure_detection,
      expected: true,
    },
    {
      name: "boolean flag with value",
      setup: { argv: ["--scaling.enable_auto_recovery", "false"] },
      pick: (c) => c.scaling.enable_auto_recovery,
      expected: false,
    },
    {
      name: "negative flag value",
      setup: { argv: ["--telemetry.trace_sample_ratio", "0"] },
      pick: (c) => c.telemetry.trace_sample_ratio,
      expected: 0,
    },
    {
      name: "file keeps YAML types",
      setup: { files: yamlFile("worker:\n  labels: {zone: eu}\n  capabilities: [gpu]\n") },
      pick: (c) => [c.worker.labels, c.worker.capabilities],
      expected: [{ zone: "eu" }, ["gpu"]],
    },
    {
      name: "port 0 means pick one",
      setup: { env: { SCALEMESH_BALANCER_GRPC_PORT: "0" } },
      pick: (c) => c.balancer.grpc_port,
      expected: 0,
    },
    {
      name: "handler module:",
      setup: { env: { SCALEMESH_WORKER_HANDLER: "module:./echo.js" } },
      pick: (c) => c.worker.handler,
      expected: "module:./echo.js",
    },
  ];
  it.each(cases)("$name", ({ setup, pick, expected }) => {
    expect(pick(expectConfig(load(setup)))).toEqual(expected);
  });
});

describe("loadConfig error messages", () => {
  const cases: ReadonlyArray<{ name: string; setup: Setup; line: string }> = [
    {
      name: "out of range names the range (env)",
      setup: { env: { SCALEMESH_SCALING_MIN_WORKERS: "-1" } },
      line: 'invalid value for scaling.min_workers: "-1" (from env SCALEMESH_SCALING_MIN_WORKERS); allowed: an integer >= 0',
    },
    {
      name: "out of range names the range (flag)",
      setup: { argv: ["--coordinator.grpc_port=70000"] },
      line: 'invalid value for coordinator.grpc_port: "70000" (from flag --coordinator.grpc_port); allowed: an integer from 0 to 65535 (0 = pick a free port)',
    },
    {
      name: "out of range names the range (file)",
      setup: { files: yamlFile("scaling:\n  scale_up_threshold: 1.5\n") },
      line: "invalid value for scaling.scale_up_threshold: 1.5 (from file scalemesh.yaml); allowed: a number from 0 to 1",
    },
    {
      name: "bad enum lists the allowed values",
      setup: { env: { SCALEMESH_BALANCER_STRATEGY: "fastest" } },
      line: 'invalid value for balancer.strategy: "fastest" (from env SCALEMESH_BALANCER_STRATEGY); allowed: one of round_robin, random, least_loaded, least_connections, weighted_capacity, p2c_peak_ewma, affinity, sticky, region_aware, predictive, consistent_hash, maglev',
    },
    {
      name: "bad enum in the file",
      setup: { files: yamlFile("scaling:\n  deployment_mode: swarm\n") },
      line: 'invalid value for scaling.deployment_mode: "swarm" (from file scalemesh.yaml); allowed: one of local, docker, kubernetes, external',
    },
    {
      name: "text that is not a number",
      setup: { argv: ["--worker.slots", "many"] },
      line: 'invalid value for worker.slots: "many" (from flag --worker.slots); allowed: an integer from 1 to 1024',
    },
    {
      name: "a fraction where an integer is needed",
      setup: { env: { SCALEMESH_SCALING_MAX_WORKERS: "2.5" } },
      line: 'invalid value for scaling.max_workers: "2.5" (from env SCALEMESH_SCALING_MAX_WORKERS); allowed: an integer >= 1',
    },
    {
      name: "text that is not a boolean",
      setup: { env: { SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY: "yes" } },
      line: 'invalid value for scaling.enable_auto_recovery: "yes" (from env SCALEMESH_SCALING_ENABLE_AUTO_RECOVERY); allowed: true or false (or 1 or 0)',
    },
    {
      name: "a string where the file needs a number",
      setup: { files: yamlFile("scaling:\n  min_workers: three\n") },
      line: 'invalid value for scaling.min_workers: "three" (from file scalemesh.yaml); allowed: an integer >= 0',
    },
    {
      name: "a map entry without =",
      setup: { env: { SCALEMESH_WORKER_LABELS: "zone=a,gold" } },
      line: 'invalid value for worker.labels: "zone=a,gold" (from env SCALEMESH_WORKER_LABELS); allowed: key=value pairs (comma-separated in env and flags)',
    },
    {
      name: "a bad value inside a map names the entry",
      setup: { files: yamlFile("worker:\n  labels:\n    zone: 1\n") },
      line: "invalid value for worker.labels.zone: 1 (from file scalemesh.yaml); allowed: key=value pairs (comma-separated in env and flags)",
    },
    {
      name: "handler with an unknown form",
      setup: { env: { SCALEMESH_WORKER_HANDLER: "python task.py" } },
      line: 'invalid value for worker.handler: "python task.py" (from env SCALEMESH_WORKER_HANDLER); allowed: "" (built-in), module:<specifier> or exec:<command>',
    },
    {
      name: "discovery URI without a scheme",
      setup: { env: { SCALEMESH_BALANCER_COORDINATOR: "127.0.0.1:7070" } },
      line: 'invalid value for balancer.coordinator: "127.0.0.1:7070" (from env SCALEMESH_BALANCER_COORDINATOR); allowed: a discovery URI such as static://host:port,host:port or dns+srv://name',
    },
    {
      name: "discovery URI whose scheme refuses it says why",
      setup: { env: { SCALEMESH_WORKER_COORDINATOR: "etcd://127.0.0.1:2379" } },
      line: 'invalid value for worker.coordinator: "etcd://127.0.0.1:2379" (from env SCALEMESH_WORKER_COORDINATOR); allowed: "etcd://127.0.0.1:2379" needs a key prefix after the endpoints; expected e.g. etcd://127.0.0.1:2379/scalemesh/coordinator',
    },
    {
      name: "registering where there is no registry",
      setup: { env: { SCALEMESH_COORDINATOR_REGISTER: "dns+srv://_c._tcp.example" } },
      line: 'invalid value for coordinator.register: "dns+srv://_c._tcp.example" (from env SCALEMESH_COORDINATOR_REGISTER); allowed: dns+srv:// has no registry to register in ("dns+srv://_c._tcp.example"); register with consul:// or etcd://, or list this service in the DNS zone yourself',
    },
    {
      name: "a registry URI that does not parse",
      setup: { env: { SCALEMESH_BALANCER_REGISTER: "consul://127.0.0.1/scalemesh-balancer" } },
      line: 'invalid value for balancer.register: "consul://127.0.0.1/scalemesh-balancer" (from env SCALEMESH_BALANCER_REGISTER); allowed: Consul agent "127.0.0.1" in "consul://127.0.0.1/scalemesh-balancer" needs host:port; expected e.g. consul://127.0.0.1:8500/scalemesh-coordinator',
    },
    {
      name: "a ledger url that is not PostgreSQL, its password left out",
      setup: { env: { SCALEMESH_LEDGER_URL: "mysql://ledger:s3cret@db:3306/scalemesh" } },
      line: 'invalid value for ledger.url: "mysql://ledger@db:3306/scalemesh" (from env SCALEMESH_LEDGER_URL); allowed: "mysql://ledger@db:3306/scalemesh" is not a postgres:// or postgresql:// url; expected e.g. postgres://scalemesh:secret@db.internal:5432/scalemesh',
    },
    {
      name: "a ledger url without a database",
      setup: { files: yamlFile("ledger:\n  url: postgres://ledger:s3cret@db:5432\n") },
      line: 'invalid value for ledger.url: "postgres://ledger@db:5432" (from file scalemesh.yaml); allowed: "postgres://ledger@db:5432" names no database after the host; expected e.g. postgres://scalemesh:secret@db.internal:5432/scalemesh',
    },
    {
      name: "a ledger url that is not a url",
      setup: { argv: ["--ledger.url", "scalemesh on db.internal"] },
      line: 'invalid value for ledger.url: "scalemesh on db.internal" (from flag --ledger.url); allowed: "scalemesh on db.internal" is not a url; expected e.g. postgres://scalemesh:secret@db.internal:5432/scalemesh',
    },
    {
      name: "min_workers > max_workers names both keys",
      setup: { env: { SCALEMESH_SCALING_MIN_WORKERS: "12" } },
      line: 'invalid value for scaling.min_workers: "12" (from env SCALEMESH_SCALING_MIN_WORKERS); allowed: at most scaling.max_workers, which is 10 (from default)',
    },
    {
      name: "min_workers > max_workers when max is lowered",
      setup: { files: yamlFile("scaling:\n  max_workers: 1\n") },
      line: "invalid value for scaling.min_workers: 2 (from default); allowed: at most scaling.max_workers, which is 1 (from file scalemesh.yaml)",
    },
    {
      name: "scale_down_threshold must stay below scale_up_threshold",
      setup: { files: yamlFile("scaling:\n  scale_down_threshold: 0.8\n") },
      line: "invalid value for scaling.scale_down_threshold: 0.8 (from file scalemesh.yaml); allowed: less than scaling.scale_up_threshold, which is 0.8 (from default)",
    },
    {
      name: "heartbeat interval must stay below the heartbeat timeout",
      setup: { argv: ["--coordinator.heartbeat_interval_sec", "5"] },
      line: 'invalid value for coordinator.heartbeat_interval_sec: "5" (from flag --coordinator.heartbeat_interval_sec); allowed: less than scaling.heartbeat_timeout_sec, which is 3 (from default)',
    },
    {
      name: "a payload limit that leaves no room in a message",
      setup: { argv: ["--rpc.max_message_bytes=1024"] },
      line: "invalid value for rpc.max_payload_bytes: 1048576 (from default); allowed: less than rpc.max_message_bytes, which is 1024 (from flag --rpc.max_message_bytes)",
    },
    {
      name: "reconnect_initial_ms above reconnect_max_ms",
      setup: { env: { SCALEMESH_WORKER_RECONNECT_INITIAL_MS: "6000" } },
      line: 'invalid value for worker.reconnect_initial_ms: "6000" (from env SCALEMESH_WORKER_RECONNECT_INITIAL_MS); allowed: at most worker.reconnect_max_ms, which is 5000 (from default)',
    },
    {
      name: "duplicate key in the file names the line",
      setup: { files: yamlFile("scaling:\n  min_workers: 1\n  min_workers: 2\n") },
      line: 'cannot read config file "scalemesh.yaml" (from file scalemesh.yaml line 3, column 3); allowed: valid YAML (Map keys must be unique)',
    },
    {
      name: "unknown key in the file, with the nearest option",
      setup: { files: yamlFile("scaling:\n  min_worker: 3\n") },
      line: "unknown key scaling.min_worker: 3 (from file scalemesh.yaml); allowed: a known option; did you mean scaling.min_workers?",
    },
    {
      name: "unknown key in the file, far from any option",
      setup: { files: yamlFile("optimizer:\n  colour: blue\n") },
      line: 'unknown key optimizer.colour: "blue" (from file scalemesh.yaml); allowed: a key of optimizer: host, grpc_port, http_port, register, advertise_host, window_sec, history_path, save_interval_sec, default_lead_time_sec',
    },
    {
      name: "unknown section in the file",
      setup: { files: yamlFile("scalng:\n  min_workers: 3\n") },
      line: 'unknown key scalng: {"min_workers":3} (from file scalemesh.yaml); allowed: one of the sections coordinator, ledger, balancer, optimizer, worker, rpc, tls, auth, telemetry, scaling, autoscaler; did you mean scaling?',
    },
    {
      name: "an option at the top level of the file",
      setup: { files: yamlFile("min_workers: 3\n") },
      line: "unknown key min_workers: 3 (from file scalemesh.yaml); allowed: one of the sections coordinator, ledger, balancer, optimizer, worker, rpc, tls, auth, telemetry, scaling, autoscaler; did you mean scaling.min_workers?",
    },
    {
      name: "a section that is not a mapping",
      setup: { files: yamlFile("scaling: 3\n") },
      line: "invalid value for scaling: 3 (from file scalemesh.yaml); allowed: a mapping of scaling options",
    },
    {
      name: "unknown env variable in a known section",
      setup: { env: { SCALEMESH_SCALING_MIN_WORKER: "3" } },
      line: 'unknown key scaling.min_worker: "3" (from env SCALEMESH_SCALING_MIN_WORKER); allowed: a known option; did you mean SCALEMESH_SCALING_MIN_WORKERS?',
    },
    {
      name: "unknown env variable without its section",
      setup: { env: { SCALEMESH_LOG_LEVEL: "debug" } },
      line: 'unknown key SCALEMESH_LOG_LEVEL: "debug" (from env SCALEMESH_LOG_LEVEL); allowed: a known option; did you mean SCALEMESH_TELEMETRY_LOG_LEVEL?',
    },
    {
      name: "unknown flag",
      setup: { argv: ["--balancer.strategie=round_robin"] },
      line: 'unknown key balancer.strategie: "round_robin" (from flag --balancer.strategie); allowed: a known option; did you mean --balancer.strategy?',
    },
    {
      name: "flag without a value",
      setup: { argv: ["--scaling.min_workers"] },
      line: "invalid value for scaling.min_workers: (nothing) (from flag --scaling.min_workers); allowed: a value: --scaling.min_workers=<value> or --scaling.min_workers <value>",
    },
    {
      name: "an argument that is not a config flag",
      setup: { argv: ["--verbose"] },
      line: 'unknown key --verbose: "--verbose" (from flag --verbose); allowed: only config flags here: --section.key=value, --section.key value or --config FILE',
    },
    {
      name: "--config without a file",
      setup: { argv: ["--config"] },
      line: "invalid value for config: (nothing) (from flag --config); allowed: a file path after --config",
    },
    {
      name: "missing file named by --config",
      setup: { argv: ["--config", "missing.yaml"] },
      line: 'cannot read config file "missing.yaml" (from flag --config); allowed: an existing, readable YAML file (no such file)',
    },
    {
      name: "missing file named by SCALEMESH_CONFIG",
      setup: { env: { SCALEMESH_CONFIG: "missing.yaml" } },
      line: 'cannot read config file "missing.yaml" (from env SCALEMESH_CONFIG); allowed: an existing, readable YAML file (no such file)',
    },
    {
      name: "YAML syntax error names the file and line",
      setup: { files: yamlFile("scaling:\n  min_workers: 3\n  static_workers: [a, b\n") },
      line: 'cannot read config file "scalemesh.yaml" (from file scalemesh.yaml line 4, column 1); allowed: valid YAML (Flow sequence in block collection must be sufficiently indented and end with a ])',
    },
  ];
  it.each(cases)("$name", ({ setup, line }) => {
    expect(expectMessageLines(load(setup))).toEqual([line]);
  });

  it("lists every problem, one per line, and ends with where to look", () => {
    const result = load({
      files: yamlFile("scaling:\n  min_worker: 3\n"),
      env: { SCALEMESH_BALANCER_STRATEGY: "fastest" },
      argv: ["--worker.slots=0"],
    });
    const lines = expectMessageLines(result);
    expect(lines).toHaveLength(3);
    expect(!result.ok && result.message).toMatch(/^invalid configuration \(3 problems\):\n/);
    expect(!result.ok && result.issues.map((issue) => [issue.key, issue.source])).toEqual([
      ["scaling.min_worker", "file scalemesh.yaml"],
      ["balancer.strategy", "env SCALEMESH_BALANCER_STRATEGY"],
      ["worker.slots", "flag --worker.slots"],
    ]);
  });

  it("gives the issue as data: key, value as written, what is allowed, source", () => {
    const result = load({ env: { SCALEMESH_SCALING_MIN_WORKERS: "-1" } });
    expect(!result.ok && result.issues).toEqual([
      {
        kind: "invalid_value",
        key: "scaling.min_workers",
        value: "-1",
        allowed: "an integer >= 0",
        source: "env SCALEMESH_SCALING_MIN_WORKERS",
      },
    ]);
  });
});

describe("loadConfig files and variables that are fine", () => {
  it("loads a seed-style file with only the original scaling keys", () => {
    const seed = [
      "scaling:",
      "  deployment_mode: docker",
      "  discovery_method: dns",
      "  min_workers: 1",
      "  max_workers: 6",
      "  sync_interval_sec: 10",
      "  heartbeat_timeout_sec: 4",
      "  worker_prefix: node",
      "  static_workers:",
      "    - 10.0.0.1:7101",
      "    - 10.0.0.2:7101",
      "  scale_up_threshold: 0.75",
      "  scale_down_threshold: 0.25",
      "  cool_down_sec: 30",
      "  burst_factor: 2.0",
      "  max_burst_duration_sec: 120",
      "  enable_failure_detection: true",
      "  enable_auto_recovery: false",
      "  max_recovery_attempts: 5",
      "  region: eu-west",
      "  zone: eu-west-1b",
    ].join("\n");
    const config = expectConfig(load({ files: yamlFile(seed) }));
    expect(config.scaling).toEqual({
      deployment_mode: "docker",
      discovery_method: "dns",
      min_workers: 1,
      max_workers: 6,
      sync_interval_sec: 10,
      heartbeat_timeout_sec: 4,
      worker_prefix: "node",
      static_workers: ["10.0.0.1:7101", "10.0.0.2:7101"],
      scale_up_threshold: 0.75,
      scale_down_threshold: 0.25,
      cool_down_sec: 30,
      burst_factor: 2,
      max_burst_duration_sec: 120,
      enable_failure_detection: true,
      enable_auto_recovery: false,
      max_recovery_attempts: 5,
      region: "eu-west",
      zone: "eu-west-1b",
    });
    expect(config.coordinator).toEqual(configSchema.parse({}).coordinator);
  });

  const fine: ReadonlyArray<{ name: string; setup: Setup }> = [
    { name: "no scalemesh.yaml in cwd", setup: {} },
    { name: "an empty file", setup: { files: yamlFile("") } },
    {
      name: "a section with every key commented out",
      setup: { files: yamlFile("scaling:\n  # min_workers: 3\n") },
    },
    {
      name: "SCALEMESH_CONFIG is not an option",
      setup: { files: { "x.yaml": "" }, env: { SCALEMESH_CONFIG: "x.yaml" } },
    },
    {
      name: "SCALEMESH_ variables that look like no option",
      setup: {
        env: {
          SCALEMESH_HOME: "/opt/scalemesh",
          SCALEMESH_E2E_KEEP_TEMP_DIRS: "1",
          SCALEMESH_VERSION: "0.1.0",
        },
      },
    },
    {
      name: "variables of other programs",
      setup: { env: { PATH: "/usr/bin", WORKER_SLOTS: "x" } },
    },
  ];
  it.each(fine)("accepts $name", ({ setup }) => {
    expect(expectConfig(load(setup))).toEqual(configSchema.parse({}));
  });
});

describe("extractConfigFlags", () => {
  const cases: ReadonlyArray<{
    name: string;
    argv: string[];
    configArgs: string[];
    rest: string[];
  }> = [
    {
      name: "splits config flags from the service's own",
      argv: ["up", "--scaling.min-workers", "3", "--verbose", "--config", "x.yaml", "--port=9"],
      configArgs: ["--scaling.min-workers", "3", "--config", "x.yaml"],
      rest: ["up", "--verbose", "--port=9"],
    },
    {
      name: "a bare boolean flag leaves the next argument alone",
      argv: [
        "--scaling.enable_auto_recovery",
        "run",
        "--scaling.enable_failure_detection",
        "false",
      ],
      configArgs: ["--scaling.enable_auto_recovery", "--scaling.enable_failure_detection", "false"],
      rest: ["run"],
    },
    {
      name: "a negative number is a value",
      argv: ["--scaling.min_workers", "-1"],
      configArgs: ["--scaling.min_workers", "-1"],
      rest: [],
    },
    {
      name: "unknown dotted flags are config flags (so typos are reported)",
      argv: ["--scalng.min_workers=3"],
      configArgs: ["--scalng.min_workers=3"],
      rest: [],
    },
    {
      name: "stops at --",
      argv: ["--worker.slots=2", "--", "--worker.slots=3"],
      configArgs: ["--worker.slots=2"],
      rest: ["--", "--worker.slots=3"],
    },
  ];
  it.each(cases)("$name", ({ argv, configArgs, rest }) => {
    expect(extractConfigFlags(argv)).toEqual({ configArgs, rest });
  });

  it("hands loadConfig exactly what it accepts", () => {
    const { configArgs } = extractConfigFlags(["serve", "--worker.slots", "8", "--debug"]);
    expect(expectConfig(load({ argv: configArgs })).worker.slots).toBe(8);
  });
});

describe("configHelp", () => {
  it("has a row per option with its default, env name and description", () => {
    const rows = configHelp().split("\n");
    for (const option of CONFIG_OPTIONS) {
      const row = rows.find((line) => line.trimStart().startsWith(`${option.key} `));
      expect(row, option.key).toBeDefined();
      expect(row).toContain(JSON.stringify(option.defaultValue));
      expect(row).toContain(option.envName);
      expect(row).toContain(option.description);
    }
    expect(CONFIG_OPTIONS).toHaveLength(129);
  });
});

describe("loadConfigOrExit", () => {
  it("returns the config when it is valid", () => {
    const config = loadConfigOrExit({ env: {}, cwd: freshDir(), argv: ["--worker.slots=2"] });
    expect(config.worker.slots).toBe(2);
  });

  it("writes the message and exits with code 2 when it is not", () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    const written: string[] = [];
    try {
      expect(() =>
        loadConfigOrExit({ env: { SCALEMESH_WORKER_SLOTS: "0" }, cwd: freshDir() }, (text) =>
          written.push(text),
        ),
      ).toThrow("exit 2");
    } finally {
      exit.mockRestore();
    }
    expect(written.join("")).toContain("invalid value for worker.slots");
    expect(written.join("")).toMatch(/see 'scalemesh --help-config' for every option\n$/);
  });
});
