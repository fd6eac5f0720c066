// One load process of the end-to-end bench, the same program for both
// systems so both get the same client: keeps --in-flight tasks going until
// --tasks have been submitted, timing each from submit to result. It warms
// up, prints {"msg":"driver ready"}, waits for "go" on stdin (so the parent
// starts all drivers together), then prints {"msg":"driver done", ...}.
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Queue, QueueEvents } from "bullmq";
import { Balancer, TaskState } from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";

/** Submits one task and resolves when its result is in; throws when it did not succeed. */
interface TaskRunner {
  runOne(): Promise<void>;
  close(): Promise<void>;
}

const TASK_TIMEOUT_MS = 30_000;
const PAYLOAD = "bench payload 32 bytes long....";

const { values } = parseArgs({
  options: {
    system: { type: "string" },
    "balancer-address": { type: "string" },
    "redis-port": { type: "string" },
    queue: { type: "string" },
    "in-flight": { type: "string", default: "32" },
    tasks: { type: "string", default: "2500" },
    "warm-up": { type: "string", default: "0" },
    // Instead of --tasks: keep going for this long.
    seconds: { type: "string" },
  },
});

async function scalemeshRunner(address: string): Promise<TaskRunner> {
  const balancer = createRpcClient(Balancer, address, { defaultDeadlineMs: TASK_TIMEOUT_MS });
  await balancer.waitForReady(10_000);
  const payload = new TextEncoder().encode(PAYLOAD);
  return {
    async runOne() {
      // Submit and wait in one call (await_result): no second round trip per task.
      const assigned = await balancer.assign({ task: { payload }, awaitResult: true });
      const task = assigned.result;
      if (task?.state !== TaskState.SUCCEEDED)
        throw new Error(
          `task ${assigned.taskId} ended ${TaskState[task?.state ?? TaskState.UNSPECIFIED]}: ${task?.error ?? ""}`,
        );
    },
    async close() {
      balancer.close();
    },
  };
}

async function bullmqRunner(port: number, queueName: string): Promise<TaskRunner> {
  const connection = { host: "127.0.0.1", port };
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  return {
    async runOne() {
      const job = await queue.add("noop", { payload: PAYLOAD });
      // Rejects with the failed reason, or after the ttl.
      await job.waitUntilFinished(events, TASK_TIMEOUT_MS);
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

interface DriveResult {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly firstError: string;
}

/** inFlight lanes share one counter; each loop ends once count tasks were submitted, or the time is up. */
async function drive(
  runner: TaskRunner,
  inFlight: number,
  count: number,
  untilMs = Number.POSITIVE_INFINITY,
): Promise<DriveResult> {
  const latenciesMs: number[] = [];
  let submitted = 0;
  let errors = 0;
  let firstError = "";
  const lane = async (): Promise<void> => {
    while (submitted < count && performance.now() < untilMs) {
      submitted += 1;
      const startedAt = performance.now();
      try {
        await runner.runOne();
        latenciesMs.push(performance.now() - startedAt);
      } catch (error) {
        errors += 1;
        if (firstError === "") firstError = (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, lane));
  return { latenciesMs, errors, firstError };
}

function waitForGo(timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`no "go" within ${timeoutMs} ms`));
    }, timeoutMs);
    lines.on("line", (text) => {
      if (text.trim() !== "go") return;
      clearTimeout(timer);
      lines.close();
      resolve();
    });
  });
}

const nowMs = (): number => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const runner =
    values.system === "scalemesh"
      ? await scalemeshRunner(values["balancer-address"] ?? "")
      : values.system === "bullmq"
        ? await bullmqRunner(Number(values["redis-port"]), values.queue ?? "")
        : undefined;
  if (runner === undefined)
    throw new Error(`--system must be scalemesh or bullmq, got ${JSON.stringify(values.system)}`);
  const inFlight = Number(values["in-flight"]);
  try {
    const warmUp = await drive(runner, inFlight, Number(values["warm-up"]));
    if (warmUp.errors > 0)
      throw new Error(`warm-up: ${warmUp.errors} task(s) failed, first: ${warmUp.firstError}`);
    process.stdout.write(`${JSON.stringify({ msg: "driver ready" })}\n`);
    await waitForGo(120_000);
    const startMs = nowMs();
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    const result =
      seconds === undefined
        ? await drive(runner, inFlight, Number(values.tasks))
        : await drive(
            runner,
            inFlight,
            Number.POSITIVE_INFINITY,
            performance.now() + seconds * 1000,
          );
    const endMs = nowMs();
    process.stdout.write(`${JSON.stringify({ msg: "driver done", startMs, endMs, ...result })}\n`);
  } finally {
    await runner.close();
  }
}

try {
  await main();
  // Exit only once the last line (all latencies, large for a long run) has left: exit() would cut a pipe write short.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(0);
} catch (error) {
  process.stderr.write(`e2e-driver: ${(error as Error).message}\n`);
  process.exit(1);
}
