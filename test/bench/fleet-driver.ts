// One process of real worker agents (libs/worker-sdk, a no-op handler) for
// the fleet-cost bench: --workers of them on one coordinator, joining at most
// 50 at a time. Prints {"msg":"fleet joined"} once every one is registered,
// and {"msg":"fleet done","done":N} on SIGTERM before it exits.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createWorker, type Worker } from "../../libs/worker-sdk/index.js";

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    workers: { type: "string", default: "100" },
    slots: { type: "string", default: "4" },
    prefix: { type: "string", default: "fleet" },
  },
});

const count = Number(values.workers);
const logger = pino({ level: "warn" });
const workers: Worker[] = [];
let done = 0;

/** Starts worker i; resolves once it is registered. */
function join(i: number): Promise<void> {
  return new Promise((resolve) => {
    const worker = createWorker({
      coordinator: `static://${values.address ?? ""}`,
      workerId: `${values.prefix}-${i}`,
      address: `127.0.0.1:${20_000 + i}`,
      slots: Number(values.slots),
      handler: async () => undefined,
      defaultTaskTimeoutMs: 30_000,
      logger,
      onRegistered: () => resolve(),
      onTaskFinished: () => void (done += 1),
    });
    workers.push(worker);
    worker.start();
  });
}

let next = 0;
const lane = async (): Promise<void> => {
  while (next < count) await join(next++);
};
await Promise.all(Array.from({ length: 50 }, lane));
process.stdout.write(`${JSON.stringify({ msg: "fleet joined", registered: workers.length })}\n`);
process.on("SIGTERM", () => {
  process.stdout.write(`${JSON.stringify({ msg: "fleet done", done })}\n`);
  void Promise.all(workers.map((w) => w.stop())).finally(() => process.exit(0));
});
