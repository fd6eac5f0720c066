// The balancer process: the front door for clients. Stateless: run as many as you like.
import { createPlacementStack } from "../../libs/balancing/index.js";
import {
  loadConfigOrExit,
  rpcOptionsOf,
  strategyOptionsOf,
  tlsSettingOf,
} from "../../libs/config/index.js";
import { Balancer, Coordinator } from "../../libs/contracts/index.js";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { clientIdentity, createClientLimiter } from "../../libs/auth/client-limits.js";
import { authorizedService } from "../../libs/auth/roles.js";
import { tokenKeyOrExit, useTokenFileOrExit } from "../../libs/auth/token-key.js";
import { parseEndpointUri } from "../../libs/discovery/index.js";
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
import { balancerService } from "./balancer-service.js";
import { startClusterView } from "./cluster-view.js";

const config = loadConfigOrExit({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
});
secureTransportOrExit(tlsSettingOf(config.tls, "balancer"), [
  { key: "balancer.host", host: config.balancer.host },
]);
const telemetry = await startTelemetryOrExit({
  serviceName: "scalemesh-balancer",
  serviceVersion: SCALEMESH_VERSION,
  sampleRatio: config.telemetry.trace_sample_ratio,
});
const logger = createLogger({
  service: "balancer",
  version: SCALEMESH_VERSION,
  level: config.telemetry.log_level,
});
setServiceLabel("balancer");

const coordinatorUri = config.balancer.coordinator;
const parsedUri = parseEndpointUri(coordinatorUri);
if (!parsedUri.ok) {
  process.stderr.write(`invalid value for balancer.coordinator: ${parsedUri.error}\n`);
  process.exit(2);
}

// Its calls to the coordinator carry auth.token_file's token (a service role), when one is set.
useTokenFileOrExit(config.auth);
// One channel to the coordinator for the cluster watch, Place and WaitTask:
// grpc-js multiplexes calls over it, reconnects by itself, and follows the
// discovery URI when the coordinator moves.
const coordinatorClient = createRpcClient(Coordinator, coordinatorUri, {
  ...rpcOptionsOf(config.rpc),
  logger,
});
// Per-worker load forecasts cost CPU each second: made while the predictive strategy is the default or was used in the last minute.
const strategyOptions = strategyOptionsOf(config.balancer);
let predictiveRankedAtMs = Number.NEGATIVE_INFINITY;
const view = startClusterView({
  client: coordinatorClient,
  logger,
  isForecastWanted: () =>
    config.balancer.strategy === "predictive" || Date.now() - predictiveRankedAtMs < 60_000,
  ...(strategyOptions.predictiveHorizonMs !== undefined
    ? { forecastHorizonMs: strategyOptions.predictiveHorizonMs }
    : {}),
});

// With a token key, callers need a role token (client, for every Balancer method).
const tokenKey = await tokenKeyOrExit(config.auth);
const authorized = (impl: ServiceImpl<typeof Balancer>): ServiceImpl<typeof Balancer> =>
  tokenKey ? authorizedService(Balancer, impl, tokenKey) : impl;
/** Per-client limits, when any is set: clients are role-token holders (or all "anonymous"). */
function limitsOf(balancer: typeof config.balancer) {
  if (balancer.client_rate_per_sec === 0 && balancer.client_max_in_flight === 0) return {};
  return {
    limiter: createClientLimiter({
      ratePerSec: balancer.client_rate_per_sec,
      burst: balancer.client_burst || Math.max(1, Math.ceil(balancer.client_rate_per_sec)),
      maxInFlight: balancer.client_max_in_flight,
    }),
    clientOf: (ctx: HandlerContext) =>
      clientIdentity(ctx.requestHeader.get("authorization"), tokenKey !== undefined),
  };
}

const host = await startServiceHost({
  host: config.balancer.host,
  grpcPort: config.balancer.grpc_port,
  httpPort: config.balancer.http_port,
  logger,
  services: [
    register(
      Balancer,
      authorized(
        balancerService({
          view,
          // Math.random: replicas must not draw alike (hashing strategies need no randomness to agree).
          stack: createPlacementStack({
            defaultStrategy: config.balancer.strategy,
            random: Math.random,
            now: Date.now,
            strategies: strategyOptionsOf(config.balancer),
          }),
          coordinator: () => coordinatorClient,
          coordinatorUri,
          placeAttempts: config.balancer.place_attempts,
          onPredictiveRank: () => {
            predictiveRankedAtMs = Date.now();
          },
          maxPayloadBytes: config.rpc.max_payload_bytes,
          logger,
          ...limitsOf(config.balancer),
        }),
      ),
    ),
  ],
  ...rpcOptionsOf(config.rpc),
  notReadyReason: () =>
    view.isSynced ? undefined : `no cluster view from the coordinator at ${coordinatorUri}`,
}).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot start");
  process.exit(1);
});

// Registered once it listens; deregistered first on a stop, so clients move on before it stops answering.
const registration = registerService({
  kind: "balancer",
  section: config.balancer,
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
  view.stop();
  coordinatorClient.close();
  await telemetry.shutdown();
}, logger);

logger.info(
  {
    grpc: host.grpc.address,
    grpcPort: host.grpc.port,
    httpPort: host.http.port,
    strategy: config.balancer.strategy,
    coordinator: coordinatorUri,
  },
  "balancer listening",
);
