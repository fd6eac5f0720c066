// The bench's baseline: the Balancer contract served by libs/rpc with an
// Assign that answers at once. Same codec, same server bootstrap, same
// request bytes as the real Assign, so the ratio isolates what the whole
// path (balancer decision, Place, ledger, worker session) costs.
import { Balancer, TaskState } from "../../libs/contracts/index.js";
import { register, startServiceHost, stopOnSignals } from "../../libs/rpc/index.js";
import { createLogger, SCALEMESH_VERSION } from "../../libs/telemetry/index.js";

const logger = createLogger({ service: "bench-echo", version: SCALEMESH_VERSION });
const host = await startServiceHost({
  host: "127.0.0.1",
  grpcPort: 0,
  httpPort: 0,
  logger,
  services: [
    register(Balancer, {
      assign: (request) => ({
        taskId: request.task?.taskId || "echo",
        state: TaskState.ASSIGNED,
        attempt: 1,
      }),
    }),
  ],
  maxMessageBytes: 4 * 1024 * 1024,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  shutdownGraceMs: 2_000,
});
stopOnSignals(() => host.stop(), logger);
logger.info({ grpcPort: host.grpc.port, httpPort: host.http.port }, "echo listening");
