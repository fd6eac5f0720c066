// Recovery after SIGKILL, scalemesh and BullMQ: two worker processes run
// long tasks, one is killed while it runs some, and each of its tasks is
// timed from the kill until it runs again on the other process. The restart
// time is the systems' own record of it (scalemesh: the task's updated_at
// when the ledger marked attempt 2 RUNNING; BullMQ: job.processedOn of the
// new attempt), found by polling every POLL_MS; every wait is bounded.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { setTimeout as sleep } from "node:timers/promises";
import { Job, Queue } from "bullmq";
import { TaskState } from "../../libs/contracts/index.js";
import { exampleHandler, startMesh } from "../support/mesh.js";
import { startBenchProcess, type BenchProcess } from "./bench-process.js";
import { quantileMs } from "./driver-pool.js";
import { bullmqVersion } from "./end-to-end.js";
import { describeOptions, FAILURE_DETECTION_KEYS } from "./mesh-settings.js";
import { REDIS_MISSING_MESSAGE, redisServerVersion, startRedisServer } from "./redis-server.js";

const WORKERS = 2;
const CONCURRENCY = 64;
const TASKS = 16;
const TASK_SLEEP_MS = 10_000;
// BullMQ's defaults alone can take about 90 s (see bullmqStallNote), so the
// bound sits above that rather than cutting its figure off.
const GIVE_UP_MS = 120_000;
const POLL_MS = 100;

type Say = (text: string) => void;
const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

interface RecoveryResult {
  readonly system: string;
  readonly settings: string;
  /** Tasks the killed worker was running. */
  readonly victimTasks: number;
  /** Kill → running elsewhere, per recovered task. */
  readonly recoveredMs: readonly number[];
}

/** Polls check until it returns a value or timeoutMs passes (then undefined). */
async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(POLL_MS);
  }
}

/** The key holding the most entries of a grouping, and those entries. */
function largestGroup<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
): { key: string; items: T[] } {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  const [key, members] = [...groups].sort((a, b) => b[1].length - a[1].length)[0] ?? ["", []];
  return { key, items: members };
}

/** Waits until every task in `pending` has a restart time (or the give-up time passes). */
async function timeRestarts(
  pending: readonly string[],
  restartedAtMs: (id: string) => Promise<number | undefined>,
  killedAtMs: number,
): Promise<number[]> {
  const recovered = new Map<string, number>();
  await pollUntil(async () => {
    for (const id of pending) {
      if (recovered.has(id)) continue;
      const at = await restartedAtMs(id);
      if (at !== undefined) recovered.set(id, at - killedAtMs);
    }
    return recovered.size === pending.length ? true : undefined;
  }, GIVE_UP_MS);
  return [...recovered.values()];
}

async function scalemeshRecovery(): Promise<RecoveryResult> {
  progress(
    `recovery: starting a mesh (${WORKERS} worker agents, ${CONCURRENCY} slots each, sleep handler)...`,
  );
  const mesh = await startMesh({
    workers: WORKERS,
    slots: CONCURRENCY,
    handler: exampleHandler("sleep"),
  });
  try {
    const payload = new TextEncoder().encode(JSON.stringify({ ms: TASK_SLEEP_MS }));
    const assigned = await Promise.all(
      Array.from({ length: TASKS }, () => mesh.balancerClient.assign({ task: { payload } })),
    );
    const running = await pollUntil(async () => {
      const { tasks } = await mesh.admin.listTasks({ state: TaskState.RUNNING, pageSize: 1000 });
      return tasks.length >= assigned.length ? tasks : undefined;
    }, 15_000);
    if (running === undefined)
      throw new Error(`scalemesh: the ${TASKS} tasks were not all RUNNING within 15 s`);
    const victim = largestGroup(running, (task) => task.workerId);
    const victimProcess = mesh.workers.find((w) => w.child.spawnargs.includes(victim.key));
    if (victimProcess === undefined)
      throw new Error(`scalemesh: no worker process for ${victim.key}`);
    progress(
      `recovery: scalemesh, SIGKILL ${victim.key} while it runs ${victim.items.length} task(s); waiting up to ${GIVE_UP_MS / 1000} s...`,
    );
    const killedAtMs = Date.now();
    victimProcess.child.kill("SIGKILL");
    const recoveredMs = await timeRestarts(
      victim.items.map((task) => task.spec?.taskId ?? ""),
      async (taskId) => {
        const { task } = await mesh.admin.getTask({ taskId });
        if (
          task === undefined ||
          task.attempt < 2 ||
          task.state !== TaskState.RUNNING ||
          task.workerId === victim.key
        )
          return undefined;
        return task.updatedAt === undefined ? Date.now() : timestampMs(task.updatedAt);
      },
      killedAtMs,
    );
    return {
      system: "scalemesh",
      settings: describeOptions(FAILURE_DETECTION_KEYS),
      victimTasks: victim.items.length,
      recoveredMs,
    };
  } finally {
    await mesh.stop();
  }
}

interface StallSettings {
  readonly label: string;
  readonly stalledIntervalMs?: number;
  readonly lockDurationMs?: number;
}

async function bullmqRecovery(redisPort: number, stall: StallSettings): Promise<RecoveryResult> {
  const queueName = `bench-recovery-${stall.label}`;
  const connection = { host: "127.0.0.1", port: redisPort };
  const workers: BenchProcess[] = [];
  const queue = new Queue(queueName, { connection });
  try {
    progress(
      `recovery: starting ${WORKERS} BullMQ worker processes (${stall.label} stall settings, concurrency ${CONCURRENCY})...`,
    );
    for (let i = 1; i <= WORKERS; i += 1) {
      workers.push(
        startBenchProcess(`bullmq worker ${i}`, "bullmq-worker.js", [
          "--redis-port",
          String(redisPort),
          "--queue",
          queueName,
          "--concurrency",
          String(CONCURRENCY),
          "--name",
          `bullmq-worker-${i}`,
          "--work",
          "sleep",
          ...(stall.stalledIntervalMs === undefined
            ? []
            : ["--stalled-interval-ms", String(stall.stalledIntervalMs)]),
          ...(stall.lockDurationMs === undefined
            ? []
            : ["--lock-duration-ms", String(stall.lockDurationMs)]),
        ]),
      );
    }
    await Promise.all(
      workers.map((w) => w.waitForLine((line) => line.msg === "bullmq worker ready", 20_000)),
    );
    await queue.waitUntilReady();
    const added = await queue.addBulk(
      Array.from({ length: TASKS }, () => ({ name: "sleep", data: { ms: TASK_SLEEP_MS } })),
    );
    const active = await pollUntil(async () => {
      const jobs = await Promise.all(added.map((job) => Job.fromId(queue, job.id ?? "")));
      return jobs.every((job) => job?.processedBy !== undefined && job.attemptsStarted >= 1)
        ? (jobs as Job[])
        : undefined;
    }, 15_000);
    if (active === undefined)
      throw new Error(`BullMQ: the ${TASKS} jobs were not all active within 15 s`);
    const victim = largestGroup(active, (job) => job.processedBy ?? "");
    const victimProcess = workers.find((w) => w.child.spawnargs.includes(victim.key));
    if (victimProcess === undefined)
      throw new Error(`BullMQ: no worker process named ${victim.key}`);
    progress(
      `recovery: BullMQ (${stall.label}), SIGKILL ${victim.key} while it runs ${victim.items.length} job(s); waiting up to ${GIVE_UP_MS / 1000} s...`,
    );
    const killedAtMs = Date.now();
    victimProcess.child.kill("SIGKILL");
    const recoveredMs = await timeRestarts(
      victim.items.map((job) => job.id ?? ""),
      async (jobId) => {
        const job = await Job.fromId(queue, jobId);
        if (
          job === undefined ||
          job.attemptsStarted < 2 ||
          job.processedBy === victim.key ||
          job.processedOn === undefined
        )
          return undefined;
        return job.processedOn;
      },
      killedAtMs,
    );
    const settings =
      `stalledInterval ${stall.stalledIntervalMs ?? "30000 (default)"} ms, lockDuration ${stall.lockDurationMs ?? "30000 (default)"} ms, ` +
      `lock renewed every lockDuration/2, maxStalledCount 1 (default)`;
    return {
      system: `BullMQ, ${stall.label}`,
      settings,
      victimTasks: victim.items.length,
      recoveredMs,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await queue.close();
  }
}

/** Why BullMQ's default figure is what it is, so a reader does not take it for a fault of the bench. */
const bullmqStallNote =
  "BullMQ moves a job back when a stall check finds its lock expired (lockDuration after the last renewal) and the previous check had " +
  "already seen the job active; checks run at most once per stalledInterval for the whole queue, so with the defaults this takes up to about 90 s";

function report(result: RecoveryResult, say: Say): void {
  const sorted = [...result.recoveredMs].sort((a, b) => a - b);
  say(`  ${result.system} (${result.settings}):`);
  if (sorted.length === 0) {
    say(
      `    killed a worker running ${result.victimTasks} task(s); did not recover within ${GIVE_UP_MS / 1000} s`,
    );
    return;
  }
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const missing = result.victimTasks - sorted.length;
  say(
    `    killed a worker running ${result.victimTasks} task(s); ${sorted.length} running elsewhere after ` +
      `first ${seconds(sorted[0] as number)}, median ${seconds(quantileMs(sorted, 0.5))}, all ${seconds(sorted.at(-1) as number)}` +
      (missing > 0 ? `; ${missing} did not recover within ${GIVE_UP_MS / 1000} s` : ""),
  );
}

export async function benchRecovery(say: Say): Promise<void> {
  const redisVersion = redisServerVersion();
  say(
    `recovery: SIGKILL one of ${WORKERS} worker processes while it runs tasks (${TASKS} tasks that sleep ${TASK_SLEEP_MS / 1000} s); ` +
      "time from the kill until each of its tasks runs again on the other",
  );
  say(
    `  restart time as each system records it, found by polling every ${POLL_MS} ms; BullMQ ${bullmqVersion()}`,
  );
  report(await scalemeshRecovery(), say);
  if (redisVersion === undefined) {
    progress(REDIS_MISSING_MESSAGE);
    say(`  BullMQ SKIPPED: ${REDIS_MISSING_MESSAGE}`);
    return;
  }
  progress("recovery: starting redis-server...");
  const redis = await startRedisServer();
  try {
    report(await bullmqRecovery(redis.port, { label: "default" }), say);
    report(
      await bullmqRecovery(redis.port, {
        label: "tuned",
        stalledIntervalMs: 1_000,
        lockDurationMs: 2_000,
      }),
      say,
    );
    say(`  ${bullmqStallNote}`);
  } finally {
    await redis.stop();
  }
}
