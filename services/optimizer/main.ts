// The optimizer process: keeps the load history the coordinator streams and
// answers what worker count it calls for. Advisory: nothing breaks when it is down.
import { loadConfigOrExit, rpcOptionsOf } from "../../libs/config/index.js";
import { Optimizer } from "../../libs/contracts/index.js";
import { register, startServiceHost, stopOnSignals } from "../../libs/rpc/index.js";
import { createLoadHistory } from "../../libs/scaling/index.js";
import { registerService } from "../../libs/discovery/index.js";
import { SCALEMESH_VERSION, createLogger, setServiceLabel, startTelemetry } from "../../libs/telemetry/index.js";
import { optimizerService } from "./optimizer-service.js";

// A bound on memory whatever a client sends: at the default 15 s sync
// interval a 60 s window holds 4 samples, so this only bites on a flood.
const MAX_SAMPLES = 10_000;

const config = loadConfigOrExit({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() });
const telemetry = startTelemetry({ serviceName: "scalemesh-optimizer", serviceVersion: SCALEMESH_VERSION, sampleRatio: config.telemetry.trace_sample_ratio });
const logger = createLogger({ service: "optimizer", version: SCALEMESH_VERSION, level: config.telemetry.log_level });
setServiceLabel("optimizer");

// Nothing reads further back than the recommendation window yet (forecasting will).
const history = createLoadHistory({ maxSamples: MAX_SAMPLES, horizonSec: config.optimizer.window_sec });
const optimizer = register(
  Optimizer,
  optimizerService({
    history,
    policy: {
      windowSec: config.optimizer.window_sec,
      minWorkers: config.scaling.min_workers,
      maxWorkers: config.scaling.max_workers,
      scaleUpThreshold: config.scaling.scale_up_threshold,
      scaleDownThreshold: config.scaling.scale_down_threshold,
    },
    logger,
  }),
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
const registration = registerService({ kind: "optimizer", section: config.optimizer, port: host.grpc.port, check: "grpc", placement: config.scaling, version: SCALEMESH_VERSION, logger });

// Signals are handled before "listening" is said: whoever reacts to that line may signal at once.
stopOnSignals(async () => {
  await registration?.stop();
  await host.stop();
  await telemetry.shutdown();
}, logger);

logger.info(
  {
    grpc: host.grpc.address,
    grpcPort: host.grpc.port,
    httpPort: host.http.port,
    windowSec: config.optimizer.window_sec,
    minWorkers: config.scaling.min_workers,
    maxWorkers: config.scaling.max_workers,
    scaleUpThreshold: config.scaling.scale_up_threshold,
    scaleDownThreshold: config.scaling.scale_down_threshold,
  },
  "optimizer listening",
);
