// The worker agent process: one per worker node. Joins the coordinator, runs
// the tasks it assigns with the configured handler, reports results, and
// serves /metrics, /healthz and /readyz (ready = registered). No gRPC port.
import { readFileSync } from "node:fs";
import { advertisedHost, registerService } from "../../libs/discovery/index.js";
import { secureTransportOrExit, startHttpServer, stopOnSignals } from "../../libs/rpc/index.js";
import { tlsSettingOf } from "../../libs/config/index.js";
import {
  SCALEMESH_VERSION,
  createLogger,
  setServiceLabel,
  startTelemetryOrExit,
} from "../../libs/telemetry/index.js";
import {
  createWorker,
  outputLimitBytes,
  resolveCoordinatorTarget,
  type Worker,
} from "../../libs/worker-sdk/index.js";
import { parseAgentArgs } from "./agent-args.js";
import { observeWorker, recordTaskFinished } from "./agent-metrics.js";
import { createHandler } from "./handlers/create-handler.js";
import { describeHandlerSpec, parseHandlerSpec } from "./handlers/handler-spec.js";

function exitWithUsageError(message: string): never {
  process.stderr.write(`${message}\n`);
  return process.exit(2);
}

const args = parseAgentArgs(process.argv.slice(2));
if (args.kind === "exit") process.exit(args.code);
const { config } = args;
secureTransportOrExit(tlsSettingOf(config.tls, "worker-agent"), [
  { key: "worker.host", host: config.worker.host },
]);

const handlerSpec = parseHandlerSpec(config.worker.handler);
if (!handlerSpec.ok) exitWithUsageError(`invalid value for worker.handler: ${handlerSpec.error}`);
const coordinator = resolveCoordinatorTarget(config.worker.coordinator);
if (!coordinator.ok)
  exitWithUsageError(`invalid value for worker.coordinator: ${coordinator.error}`);
const joinToken = readJoinToken(config.worker.join_token_file);
const maxOutputBytes = outputLimitBytes(config.rpc.max_message_bytes);
const handler = await createHandler(handlerSpec.spec, { cwd: process.cwd(), maxOutputBytes });
if (!handler.ok) exitWithUsageError(`invalid value for worker.handler: ${handler.error}`);

const telemetry = await startTelemetryOrExit({
  serviceName: "scalemesh-worker-agent",
  serviceVersion: SCALEMESH_VERSION,
  sampleRatio: config.telemetry.trace_sample_ratio,
});
const logger = createLogger({
  service: "worker-agent",
  version: SCALEMESH_VERSION,
  level: config.telemetry.log_level,
});
setServiceLabel("worker-agent");

let worker: Worker | undefined;
const http = await startHttpServer({
  host: config.worker.host,
  port: config.worker.http_port,
  logger,
  notReadyReason: () => {
    if (!worker) return "starting";
    if (worker.isDraining) return "draining";
    return worker.isConnected ? undefined : "not registered with the coordinator";
  },
}).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot start");
  return process.exit(1);
});

// The address the coordinator shows operators: a wildcard listen address says nothing about where we are.
const workerHost = advertisedHost(config.worker.host, config.worker.advertise_host);
worker = createWorker({
  coordinator: coordinator.target,
  workerId: config.worker.worker_id || undefined,
  workerIdPrefix: config.scaling.worker_prefix,
  address: `${workerHost}:${http.port}`,
  slots: config.worker.slots,
  region: config.scaling.region,
  zone: config.scaling.zone,
  capabilities: config.worker.capabilities,
  labels: config.worker.labels,
  handler: handler.handler,
  defaultTaskTimeoutMs: config.worker.task_timeout_sec * 1000,
  reconnect: {
    initialMs: config.worker.reconnect_initial_ms,
    maxMs: config.worker.reconnect_max_ms,
  },
  ...(joinToken ? { joinToken } : {}),
  rpc: {
    defaultDeadlineMs: config.rpc.default_deadline_ms,
    maxMessageBytes: config.rpc.max_message_bytes,
    keepaliveTimeMs: config.rpc.keepalive_time_ms,
    keepaliveTimeoutMs: config.rpc.keepalive_timeout_ms,
  },
  // httpPort on every worker line, the "worker registered" one included, says which agent's port to scrape.
  logger: logger.child({ httpPort: http.port }),
  onTaskFinished: recordTaskFinished,
  // An operator's drain takes the same path as SIGTERM: drain, then exit 0.
  onDrainRequested: () => process.kill(process.pid, "SIGTERM"),
});
observeWorker(worker, config.worker.slots);
logger.info(
  {
    workerId: worker.workerId,
    coordinator: coordinator.target,
    handler: describeHandlerSpec(handlerSpec.spec),
    slots: config.worker.slots,
    http: `${config.worker.host}:${http.port}`,
  },
  "worker agent starting",
);
worker.start();

// The registry checks /readyz, which passes once the worker is registered with the coordinator.
const registration = registerService({
  kind: "worker-agent",
  section: config.worker,
  id: worker.workerId,
  port: http.port,
  check: "http",
  placement: config.scaling,
  version: SCALEMESH_VERSION,
  logger,
});

const running = worker;
stopOnSignals(async () => {
  await registration?.stop();
  // Tasks run to their own timeouts; the grace bounds only the wait for their results' acks.
  await running.drain({ flushTimeoutMs: config.rpc.shutdown_grace_sec * 1000 });
  await http.close();
  await telemetry.shutdown();
}, logger);

/** The join token in `file` ("" for none); exits 2 when it cannot be read, without printing it. */
function readJoinToken(file: string): string | undefined {
  if (file === "") return undefined;
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token !== "") return token;
  } catch {
    // reported below
  }
  return exitWithUsageError(
    `worker.join_token_file: cannot read a token from ${file}; "scalemesh token create" prints one`,
  );
}
