// One process of simulated worker agents for the scale bench: --workers
// sessions to one coordinator, each on a connection of its own, each
// registering and then heartbeating as an idle worker agent does (at the
// interval the coordinator answers). --bare sends the same heartbeats to the bare
// grpc-js server instead (bare-echo.ts --heartbeats), which answers nothing.
// Joins go at most --joining at a time. Prints {"msg":"driver joined"} once
// every session is open, then a line every second with how many are up.
import { parseArgs } from "node:util";
import { durationMs } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { Coordinator, type WorkerSessionResponse } from "../../libs/contracts/index.js";
import { grpcServiceDefinition } from "../../libs/rpc/grpc-server-adapter.js";

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    workers: { type: "string", default: "100" },
    prefix: { type: "string", default: "sim" },
    joining: { type: "string", default: "50" },
    bare: { type: "boolean", default: false },
  },
});

const address = values.address ?? "";
const count = Number(values.workers);
const joining = Number(values.joining);
const definition = grpcServiceDefinition(Coordinator);
const Client = grpc.makeGenericClientConstructor(definition, "Coordinator");
const session = definition.workerSession;
if (!session) throw new Error("no WorkerSession in the Coordinator contract");

let up = 0;
const calls: grpc.ClientDuplexStream<unknown, unknown>[] = [];

/** Opens one worker's session; resolves once it is registered (or, --bare, open). */
function startWorker(i: number): Promise<void> {
  const workerId = `${values.prefix}-${i}`;
  // A subchannel pool of its own: one TCP connection per simulated worker, as real agents have.
  const client = new Client(address, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.keepalive_time_ms": 10_000,
  });
  const call = client.makeBidiStreamRequest(
    session.path,
    session.requestSerialize,
    session.responseDeserialize,
  );
  calls.push(call);
  let timer: NodeJS.Timeout | undefined;
  // As an idle agent does (libs/worker-sdk/heartbeat-news.ts): its load once,
  // then `unchanged` every interval, which renews its lease and nothing else.
  const beat = (intervalMs: number): void => {
    call.write({ message: { case: "heartbeat", value: { runningTaskIds: [], freeSlots: 1 } } });
    timer = setInterval(
      () => call.write({ message: { case: "heartbeat", value: { unchanged: true } } }),
      intervalMs,
    );
  };
  call.on("error", () => clearInterval(timer));
  call.on("end", () => clearInterval(timer));
  call.write({
    message: {
      case: "register",
      value: { worker: { workerId, slots: 1, address: `127.0.0.1:${10_000 + (i % 50_000)}` } },
    },
  });
  if (values.bare) {
    beat(1_000);
    up += 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    call.on("data", (message: WorkerSessionResponse) => {
      if (message.message.case !== "registered") return;
      up += 1;
      const interval = message.message.value.heartbeatInterval;
      beat(interval ? durationMs(interval) : 1_000);
      resolve();
    });
    call.on("error", () => resolve());
  });
}

let next = 0;
const lane = async (): Promise<void> => {
  while (next < count) await startWorker(next++);
};
await Promise.all(Array.from({ length: Math.max(1, joining) }, lane));
process.stdout.write(`${JSON.stringify({ msg: "driver joined", up })}\n`);
setInterval(() => process.stdout.write(`${JSON.stringify({ msg: "driver up", up })}\n`), 1_000);
process.on("SIGTERM", () => {
  for (const call of calls) call.cancel();
  process.exit(0);
});
