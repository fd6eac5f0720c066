// The optimizer process: keeps the load history the coordinator streams and
// answers what worker count it calls for. Advisory: nothing breaks when it is down.
import { loadConfigOrExit, rpcOptionsOf, tlsSettingOf } from "../../libs/config/index.js";
import { Optimizer } from "../../libs/contracts/index.js";
import {
  register,
  secureTransportOrExit,
  startServiceHost,
  stopOnSignals,
} from "../../libs/rpc/index.js";
import { registerService } from "../../libs/discovery/index.js";
import {
  SCALEMESH_VERSION,
  createLogger,
  setServiceLabel,
  startTelemetryOrExit,
} from "../../libs/telemetry/index.js";
import { createForecaster, type Forecaster, type ForecasterSnapshot } from "./forecaster.js";
import { loadHistoryFile, saveHistoryFile } from "./history-file.js";
import { optimizerService } from "./optimizer-service.js";
import { authorizedService } from "../../libs/auth/roles.js";
import { tokenKeyOrExit } from "../../libs/auth/token-key.js";

const config = loadConfigOrExit({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
});
secureTransportOrExit(tlsSettingOf(config.tls, "optimizer"), [
  { key: "optimizer.host", host: config.optimizer.host },
]);
const telemetry = await startTelemetryOrExit({
  serviceName: "scalemesh-optimizer",
  serviceVersion: SCALEMESH_VERSION,
  sampleRatio: config.telemetry.trace_sample_ratio,
});
const logger = createLogger({
  service: "optimizer",
  version: SCALEMESH_VERSION,
  level: config.telemetry.log_level,
});
setServiceLabel("optimizer");

// The history of an earlier run, so forecasts do not start from nothing after a restart.
const historyPath = config.optimizer.history_path;
let restored: ForecasterSnapshot | undefined;
if (historyPath !== "") {
  try {
    const loaded = loadHistoryFile(historyPath);
    if (loaded.kind === "loaded") restored = loaded.snapshot;
    if (loaded.kind === "unreadable")
      logger.warn(
        { path: historyPath, reason: loaded.reason, movedTo: loaded.movedTo },
        "load history file unreadable; set aside, starting empty",
      );
  } catch (error) {
    logger.fatal(
      {
        key: "optimizer.history_path",
        path: historyPath,
        err: error instanceof Error ? error.message : String(error),
      },
      "cannot read the load history file",
    );
    process.exit(1);
  }
}
const forecasterOptions = (snapshot: ForecasterSnapshot | undefined) => ({
  policy: {
    windowSec: config.optimizer.window_sec,
    minWorkers: config.scaling.min_workers,
    maxWorkers: config.scaling.max_workers,
    scaleUpThreshold: config.scaling.scale_up_threshold,
    scaleDownThreshold: config.scaling.scale_down_threshold,
  },
  hardMaxWorkers:
    config.autoscaler.hard_max_workers ||
    Math.ceil(config.scaling.max_workers * config.scaling.burst_factor),
  ...(snapshot ? { restored: snapshot } : {}),
});
// A file that parsed but does not restore is set aside like an unreadable one: the optimizer starts empty rather than not at all.
let forecaster: Forecaster;
try {
  forecaster = createForecaster(forecasterOptions(restored));
} catch (error) {
  logger.warn(
    { path: historyPath, err: error instanceof Error ? error.message : String(error) },
    "load history file does not restore; starting empty",
  );
  forecaster = createForecaster(forecasterOptions(undefined));
}
const save = (): void => {
  if (historyPath === "") return;
  try {
    saveHistoryFile(historyPath, forecaster.snapshot());
  } catch (error) {
    logger.warn(
      { path: historyPath, err: error instanceof Error ? error.message : String(error) },
      "cannot write the load history file; will try again",
    );
  }
};
const saveTimer = setInterval(save, config.optimizer.save_interval_sec * 1000);
const optimizerImpl = optimizerService({
  forecaster,
  logger,
  defaultLeadTimeSec: config.optimizer.default_lead_time_sec,
});
// With a token key, Observe needs the service role (the coordinator) and the reads a viewer's.
const tokenKey = await tokenKeyOrExit(config.auth);
const optimizer = register(
  Optimizer,
  tokenKey ? authorizedService(Optimizer, optimizerImpl, tokenKey) : optimizerImpl,
);

const host = await startServiceHost({
  host: config.optimizer.host,
  grpcPort: config.optimizer.grpc_port,
  httpPort: config.optimizer.http_port,
  logger,
  services: [optimizer],
  // GetRecommendation answers curl with JSON on the HTTP port too.
  connectServices: [optimizer],
  ...rpcOptionsOf(config.rpc),
}).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot start");
  process.exit(1);
});

// Registered once it listens; deregistered first on a stop, so clients move on before it stops answering.
const registration = registerService({
  kind: "optimizer",
  section: config.optimizer,
  port: host.grpc.port,
  check: "grpc",
  placement: config.scaling,
  version: SCALEMESH_VERSION,
  logger,
});

// Signals are handled before "listening" is said: whoever reacts to that line may signal at once.
stopOnSignals(async () => {
  await registration?.stop();
  await host.stop();
  clearInterval(saveTimer);
  save();
  await telemetry.shutdown();
}, logger);

logger.info(
  {
    grpc: host.grpc.address,
    grpcPort: host.grpc.port,
    httpPort: host.http.port,
    windowSec: config.optimizer.window_sec,
    history: historyPath || "memory only",
    restoredSignals: restored ? Object.keys(restored.signals).length : 0,
    minWorkers: config.scaling.min_workers,
    maxWorkers: config.scaling.max_workers,
    scaleUpThreshold: config.scaling.scale_up_threshold,
    scaleDownThreshold: config.scaling.scale_down_threshold,
  },
  "optimizer listening",
);
