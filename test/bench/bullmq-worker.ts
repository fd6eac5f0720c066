// The BullMQ side of the peer benchmark: one worker process, as a scalemesh
// worker agent is one process. `--work noop` returns an empty result at once
// (like examples/handlers/noop.mjs); `--work sleep` sleeps for the job's
// {"ms": N} (like examples/handlers/sleep.mjs). Stall settings are BullMQ's
// defaults unless given. Prints {"msg":"bullmq worker ready"} once connected;
// SIGTERM closes it without waiting for running jobs.
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker, type Job, type WorkerOptions } from "bullmq";

const { values } = parseArgs({
  options: {
    "redis-port": { type: "string" },
    queue: { type: "string" },
    concurrency: { type: "string", default: "64" },
    name: { type: "string" },
    work: { type: "string", default: "noop" },
    "stalled-interval-ms": { type: "string" },
    "lock-duration-ms": { type: "string" },
  },
});

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    process.stderr.write(`bullmq-worker: --${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const port = Number(required("redis-port", values["redis-port"]));
const queueName = required("queue", values.queue);
const name = required("name", values.name);
const concurrency = Number(values.concurrency);

async function noop(): Promise<undefined> {
  return undefined;
}

async function sleepFor(job: Job<{ ms?: number }>): Promise<string> {
  const ms = Number(job.data.ms ?? 0);
  await sleep(ms);
  return `slept ${ms} ms`;
}

const options: WorkerOptions = {
  connection: { host: "127.0.0.1", port },
  concurrency,
  // Recorded by BullMQ as job.processedBy: how the bench tells which process ran a job.
  name,
  ...(values["stalled-interval-ms"] === undefined
    ? {}
    : { stalledInterval: Number(values["stalled-interval-ms"]) }),
  ...(values["lock-duration-ms"] === undefined
    ? {}
    : { lockDuration: Number(values["lock-duration-ms"]) }),
};
const worker = new Worker(queueName, values.work === "sleep" ? sleepFor : noop, options);
worker.on("error", (error) => process.stderr.write(`bullmq-worker ${name}: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write(
  `${JSON.stringify({ msg: "bullmq worker ready", name, concurrency, pid: process.pid })}\n`,
);

process.once("SIGTERM", () => {
  void worker.close(true).finally(() => process.exit(0));
});
