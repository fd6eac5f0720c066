// The coordinator process: membership, the task ledger, failure detection.
import {
  loadConfigOrExit,
  rpcOptionsOf,
  strategyOptionsOf,
  tlsSettingOf,
} from "../../libs/config/index.js";
import {
  Admin,
  Coordinator as CoordinatorService,
  Leases,
  Optimizer,
} from "../../libs/contracts/index.js";
import { advertisedHost, parseEndpointUri } from "../../libs/discovery/index.js";
import { dirname, join } from "node:path";
import { createJoinGate } from "./join-gate.js";
import { PAGE_LATENCY_METRICS, startLiveFeed } from "./live-feed.js";
import { livePageRoutes } from "./live-page.js";
import { leasesService } from "./leases-service.js";
import { openUserLeases } from "./user-lease-store.js";
import { authorizedService } from "../../libs/auth/roles.js";
import { tokenKeyOrExit, useTokenFileOrExit } from "../../libs/auth/token-key.js";
import { createAutoscaler, type Autoscaler } from "./autoscaler.js";
import { autoscalePolicyOf, hardMaxWorkersOf } from "./autoscale-policy-config.js";
import { createProvider } from "./providers/create-provider.js";
import { scalingAdmin } from "./scaling-admin.js";
import { predictorOf } from "./optimizer-predictor.js";
import {
  createRpcClient,
  register,
  startServiceHost,
  stopOnSignals,
  secureTransportOrExit,
} from "../../libs/rpc/index.js";
import { registerService } from "../../libs/discovery/index.js";
import {
  SCALEMESH_VERSION,
  createLogger,
  setServiceLabel,
  startTelemetryOrExit,
} from "../../libs/telemetry/index.js";
import { adminService } from "./admin-service.js";
import { Coordinator } from "./coordinator.js";
import { ledgerCommitObserver } from "./ledger-metrics.js";
import { ledgerLocation, openLedgerStores, type LedgerStores } from "./ledger-stores.js";
import { coordinatorService } from "./coordinator-service.js";
import { startLoadReporter, type LoadReporter } from "./load-reporter.js";
import { standByUntilLeader } from "./leadership.js";

const config = loadConfigOrExit({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
});
secureTransportOrExit(tlsSettingOf(config.tls, "coordinator"), [
  { key: "coordinator.host", host: config.coordinator.host },
]);
const telemetry = await startTelemetryOrExit({
  serviceName: "scalemesh-coordinator",
  serviceVersion: SCALEMESH_VERSION,
  sampleRatio: config.telemetry.trace_sample_ratio,
});
const logger = createLogger({
  service: "coordinator",
  version: SCALEMESH_VERSION,
  level: config.telemetry.log_level,
});
setServiceLabel("coordinator");

// The tasks and the scaling history: PostgreSQL when ledger.url is set, else the SQLite file.
const ledgerAt = ledgerLocation(config.ledger);
// Replicas on PostgreSQL: stand by (answering UNAVAILABLE) until this one holds the leader lease, then read the ledger.
const leadership =
  config.ledger.url !== ""
    ? await standByUntilLeader({
        url: config.ledger.url,
        ttlMs: config.ledger.leader_lease_sec * 1000,
        host: config.coordinator.host,
        grpcPort: config.coordinator.grpc_port,
        httpPort: config.coordinator.http_port,
        advertiseHost: config.coordinator.advertise_host,
        logger,
        ...rpcOptionsOf(config.rpc),
      })
    : undefined;
const exitOnLedgerError = (error: unknown, what: string): never => {
  logger.fatal(
    {
      key: ledgerAt.key,
      path: ledgerAt.where,
      err: error instanceof Error ? error.message : String(error),
    },
    what,
  );
  return process.exit(1);
};
const ledger: LedgerStores = await openLedgerStores(
  config.ledger,
  ledgerCommitObserver,
  leadership?.election,
).catch((error: unknown) => exitOnLedgerError(error, "cannot open the task ledger"));
const { store, history } = ledger;
// Users' leases (the Leases service) live beside the tasks.
const userLeases = await openUserLeases(config.ledger, leadership?.election).catch(
  (error: unknown) => exitOnLedgerError(error, "cannot open the leases table of the task ledger"),
);

const coordinator = new Coordinator(
  {
    heartbeatIntervalMs: config.coordinator.heartbeat_interval_sec * 1000,
    heartbeatTimeoutMs: config.scaling.heartbeat_timeout_sec * 1000,
    reconnectGraceMs: config.coordinator.reconnect_grace_sec * 1000,
    maxPendingTasks: config.coordinator.max_pending_tasks,
    defaultMaxAttempts: config.coordinator.default_max_attempts,
    defaultTaskTimeoutMs: config.coordinator.default_task_timeout_sec * 1000,
    deadWorkerRetentionMs: config.coordinator.dead_worker_retention_sec * 1000,
    isFailureDetectionEnabled: config.scaling.enable_failure_detection,
    strategy: config.balancer.strategy,
    strategyOptions: strategyOptionsOf(config.balancer),
    recoveryGraceMs: config.coordinator.recovery_grace_sec * 1000,
    retryBackoff: {
      initialMs: config.coordinator.retry_backoff_base_ms,
      maxMs: config.coordinator.retry_backoff_cap_ms,
    },
  },
  logger,
  store,
);
await coordinator
  .recover()
  .catch((error: unknown) => exitOnLedgerError(error, "cannot read the task ledger"));
coordinator.start();
const hardMaxWorkers = hardMaxWorkersOf(config);
let autoscaler: Autoscaler | undefined;
const adminImpl = adminService({
  coordinator,
  tasks: coordinator.ledger,
  scaling: scalingAdmin(() => autoscaler, {
    hardMaxWorkers,
    history: (limit, beforeId) =>
      history.list({ limit, ...(beforeId !== undefined ? { beforeId } : {}) }),
  }),
});
// With a token key, workers need join tokens and Admin callers role tokens.
const tokenKey = await tokenKeyOrExit(config.auth);
if (tokenKey)
  logger.info(
    { revokedFile: tokenKey.revokedFile || undefined },
    "workers need a join token, Admin callers a role token",
  );
const joinGate = tokenKey
  ? createJoinGate({
      ...tokenKey,
      logger,
      maxSessionsPerToken: config.auth.max_sessions_per_token,
    })
  : undefined;
const admin = register(Admin, tokenKey ? authorizedService(Admin, adminImpl, tokenKey) : adminImpl);
const leasesImpl = leasesService(userLeases);
const coordinatorImpl = coordinatorService(coordinator, {
  logger,
  maxPayloadBytes: config.rpc.max_payload_bytes,
  joinGate,
});
// Its calls to the optimizer carry auth.token_file's token (a service role), when one is set.
useTokenFileOrExit(config.auth);
// The live page at / reads what the Admin service answers, once a second for every open page.
const pageOptimizer =
  config.coordinator.optimizer !== ""
    ? createRpcClient(Optimizer, config.coordinator.optimizer, { defaultDeadlineMs: 2_000, logger })
    : undefined;
const liveFeed = startLiveFeed({
  admin: adminImpl,
  acceptedTotal: () => coordinator.acceptedTotal,
  logger,
  ...(pageOptimizer
    ? {
        forecast: () =>
          pageOptimizer.getForecast({ signal: "demand", horizonSec: 300, stepSec: 5 }),
      }
    : {}),
  queueWaitMetric: PAGE_LATENCY_METRICS.queueWait,
  endToEndMetric: PAGE_LATENCY_METRICS.endToEnd,
});
const host = await startServiceHost({
  host: config.coordinator.host,
  grpcPort: leadership?.grpcPort ?? config.coordinator.grpc_port,
  httpPort: leadership?.httpPort ?? config.coordinator.http_port,
  logger,
  services: [
    register(
      CoordinatorService,
      // Worker sessions check join tokens; Place, PlaceStream, WatchCluster and WaitTask need the service role.
      tokenKey
        ? authorizedService(CoordinatorService, coordinatorImpl, tokenKey, ["WorkerSession"])
        : coordinatorImpl,
    ),
    admin,
    register(Leases, tokenKey ? authorizedService(Leases, leasesImpl, tokenKey) : leasesImpl),
  ],
  connectServices: [admin],
  routes: livePageRoutes({ feed: liveFeed, logger, ...(tokenKey ? { roles: tokenKey } : {}) }),
  ...rpcOptionsOf(config.rpc),
}).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot start");
  process.exit(1);
});

let reporter: LoadReporter | undefined;
if (config.coordinator.optimizer !== "") {
  const optimizer = parseEndpointUri(config.coordinator.optimizer);
  if (!optimizer.ok) {
    logger.fatal({ key: "coordinator.optimizer" }, optimizer.error);
    process.exit(2);
  }
  reporter = startLoadReporter(coordinator, {
    optimizerAddress: config.coordinator.optimizer,
    intervalMs: config.scaling.sync_interval_sec * 1000,
    logger,
  });
}

// Predictive scaling asks the optimizer each sync; when it cannot answer, scaling is reactive.
const optimizerClient =
  config.autoscaler.predictive && config.coordinator.optimizer !== ""
    ? createRpcClient(Optimizer, config.coordinator.optimizer, { defaultDeadlineMs: 1_000, logger })
    : undefined;

// The workers it starts find it the way the config says, else where it listens.
const listenHost = advertisedHost(config.coordinator.host, config.coordinator.advertise_host);
const workerCoordinatorUri =
  config.autoscaler.worker_coordinator ||
  config.coordinator.register ||
  `static://${listenHost}:${host.grpc.port}`;
const provider = await createProvider(config, {
  coordinatorUri: workerCoordinatorUri,
  logDir: join(
    config.ledger.path === ":memory:" ? ".scalemesh" : dirname(config.ledger.path),
    "logs",
  ),
  logger,
}).catch((error: unknown) => {
  logger.fatal(
    { key: "scaling.deployment_mode", err: error instanceof Error ? error.message : String(error) },
    "cannot set up the worker provider",
  );
  return process.exit(1);
});
autoscaler = createAutoscaler({
  source: coordinator,
  provider,
  policy: autoscalePolicyOf(config),
  isEnabled: config.autoscaler.enabled,
  syncIntervalMs: config.scaling.sync_interval_sec * 1000,
  startTimeoutMs: config.autoscaler.worker_start_timeout_sec * 1000,
  drainTimeoutMs: config.autoscaler.drain_timeout_sec * 1000,
  recovery: {
    isEnabled: config.scaling.enable_auto_recovery,
    maxAttempts: config.scaling.max_recovery_attempts,
  },
  // The workers it starts run with this same configuration (the local provider
  // passes it on; the docker and kubernetes manifests share it), so a task
  // needing this region, zone or capability waits for one instead of being refused.
  workerTemplate: {
    region: config.scaling.region,
    zone: config.scaling.zone,
    capabilities: config.worker.capabilities,
  },
  memoryLimitBytes: config.autoscaler.worker_memory_limit_mb * 1024 * 1024,
  history,
  logger,
  ...(optimizerClient ? { predict: predictorOf(optimizerClient) } : {}),
});
autoscaler.start();
const runningAutoscaler = autoscaler;

// Registered once it listens; deregistered first on a stop, so clients move on before it stops answering.
const registration = registerService({
  kind: "coordinator",
  section: config.coordinator,
  port: host.grpc.port,
  check: "grpc",
  placement: config.scaling,
  version: SCALEMESH_VERSION,
  logger,
});

// A lost lease: stop answering as leader and leave discovery, then the process exits (leadership.ts).
leadership?.onStepDown(async () => {
  host.grpc.setServing(false);
  await registration?.stop(1_000);
});

// Signals are handled before "listening" is said: whoever reacts to that line may signal at once.
stopOnSignals(async () => {
  await registration?.stop();
  reporter?.stop();
  // Workers it started drain while the coordinator still takes their results.
  await runningAutoscaler.stop();
  await provider.close();
  optimizerClient?.close();
  liveFeed.stop();
  pageOptimizer?.close();
  await host.stop();
  await coordinator.stop();
  await leadership?.release();
  await ledger.close();
  await userLeases.close();
  await telemetry.shutdown();
}, logger);

logger.info(
  {
    ledger: ledgerAt.where,
    ...(ledgerAt.key === "ledger.path" ? { synchronous: config.ledger.synchronous } : {}),
    grpc: host.grpc.address,
    http: `${config.coordinator.host}:${host.http.port}`,
    grpcPort: host.grpc.port,
    httpPort: host.http.port,
  },
  "coordinator listening",
);
