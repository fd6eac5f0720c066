// End-to-end no-op tasks, submit → result, through scalemesh and through
// BullMQ on a local Redis, with the same worker processes, the same
// concurrency and the same load processes: throughput, p50, p99, ratios.
import { createRequire } from "node:module";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";
import { startBenchProcess, type BenchProcess } from "./bench-process.js";
import { runDrivers, type LoadShape, type LoadSummary } from "./driver-pool.js";
import {
  REDIS_MISSING_MESSAGE,
  REDIS_PERSISTENCE_TEXT,
  redisServerVersion,
  startRedisServer,
  type RedisPersistence,
} from "./redis-server.js";

export interface EndToEndOptions extends LoadShape {
  /** Worker processes on each side. */
  readonly workers: number;
  /** Slots per scalemesh worker agent = concurrency per BullMQ worker. */
  readonly concurrency: number;
}

type Say = (text: string) => void;
const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

export function endToEndOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): EndToEndOptions {
  const tasks = positiveInteger(env, "SCALEMESH_BENCH_E2E_TASKS", 5_000);
  return {
    inFlight: positiveInteger(env, "SCALEMESH_BENCH_E2E_IN_FLIGHT", 64),
    tasks,
    warmUpTasks: Math.min(500, Math.ceil(tasks / 10)),
    drivers: 2,
    workers: 2,
    concurrency: 64,
  };
}

function positiveInteger(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return value;
}

export function bullmqVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("bullmq/package.json") as { version: string }).version;
}

/** How durable each side is in one pair of runs. */
interface Durability {
  readonly label: string;
  readonly ledgerSynchronous: "full" | "normal";
  readonly redis: RedisPersistence;
}

const LEDGER_TEXT: Record<Durability["ledgerSynchronous"], string> = {
  full: "ledger.synchronous full (the default): every acknowledged transition survives a power loss",
  normal:
    "ledger.synchronous normal: survives a crash of the coordinator, a power loss may lose the last commits",
};

const PAIRS: readonly Durability[] = [
  { label: "as shipped", ledgerSynchronous: "full", redis: "none" },
  { label: "like for like", ledgerSynchronous: "normal", redis: "aof-everysec" },
];

function scalemeshRun(options: EndToEndOptions, durability: Durability): Promise<LoadSummary> {
  return scalemeshLoad(options, {
    env: { SCALEMESH_LEDGER_SYNCHRONOUS: durability.ledgerSynchronous },
    what: `ledger.synchronous ${durability.ledgerSynchronous}`,
  }).then(({ summary }) => summary);
}

/**
 * The scalemesh side of the end-to-end load on a mesh of its own, with
 * `env` for every process; `inspect` reads the mesh before it stops.
 */
export async function scalemeshLoad<T = undefined>(
  options: EndToEndOptions,
  run: { env: Record<string, string>; what: string; inspect?: (mesh: Mesh) => Promise<T> },
): Promise<{ summary: LoadSummary; inspected: T | undefined }> {
  progress(
    `e2e: starting a mesh (${options.workers} worker agents, ${options.concurrency} slots each, noop handler, ${run.what})...`,
  );
  const mesh = await startMesh({
    workers: options.workers,
    slots: options.concurrency,
    handler: exampleHandler("noop"),
    env: run.env,
  });
  try {
    progress(
      `e2e: scalemesh, ${options.tasks} tasks, ${options.inFlight} in flight from ${options.drivers} load processes...`,
    );
    const summary = await runDrivers(
      "scalemesh",
      ["--system", "scalemesh", "--balancer-address", `127.0.0.1:${mesh.balancer.grpcPort}`],
      options,
    );
    return { summary, inspected: await run.inspect?.(mesh) };
  } finally {
    await mesh.stop();
  }
}

async function bullmqRun(options: EndToEndOptions, durability: Durability): Promise<LoadSummary> {
  progress(`e2e: starting redis-server (${durability.redis})...`);
  const redis = await startRedisServer({ persistence: durability.redis });
  const workers: BenchProcess[] = [];
  try {
    const queue = "bench-e2e";
    progress(
      `e2e: starting ${options.workers} BullMQ worker processes (concurrency ${options.concurrency} each, no-op processor)...`,
    );
    for (let i = 1; i <= options.workers; i += 1) {
      workers.push(
        startBenchProcess(`bullmq worker ${i}`, "bullmq-worker.js", [
          "--redis-port",
          String(redis.port),
          "--queue",
          queue,
          "--concurrency",
          String(options.concurrency),
          "--name",
          `bullmq-worker-${i}`,
          "--work",
          "noop",
        ]),
      );
    }
    await Promise.all(
      workers.map((w) => w.waitForLine((line) => line.msg === "bullmq worker ready", 20_000)),
    );
    progress(
      `e2e: BullMQ, ${options.tasks} tasks, ${options.inFlight} in flight from ${options.drivers} load processes...`,
    );
    return await runDrivers(
      "bullmq",
      ["--system", "bullmq", "--redis-port", String(redis.port), "--queue", queue],
      options,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await redis.stop();
  }
}

/** One line of the results table (the first column left-aligned, the rest right). */
export function row(cells: readonly string[]): string {
  const widths = [18, 7, 10, 13, 9, 9, 7];
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 10) : cell.padStart(widths[i] ?? 10)))
    .join(" ");
}

/** Throughput and latencies of one run as multiples of another's. */
export function ratioRow(label: string, run: LoadSummary, baseline: LoadSummary): string {
  return row([
    label,
    "",
    "",
    `${(run.throughputPerSec / baseline.throughputPerSec).toFixed(2)}x`,
    `${(run.p50Ms / baseline.p50Ms).toFixed(2)}x`,
    `${(run.p99Ms / baseline.p99Ms).toFixed(2)}x`,
    "",
  ]);
}

export function summaryRow(system: string, inFlight: number, s: LoadSummary): string {
  return row([
    system,
    String(s.tasks),
    String(inFlight),
    s.throughputPerSec.toFixed(0),
    s.p50Ms.toFixed(2),
    s.p99Ms.toFixed(2),
    String(s.errors),
  ]);
}

export async function benchEndToEnd(options: EndToEndOptions, say: Say): Promise<void> {
  const redisVersion = redisServerVersion();
  say("end to end: no-op tasks, submit → result, scalemesh vs BullMQ");
  say(
    `  ${options.workers} worker processes each: scalemesh worker agents with ${options.concurrency} slots (examples/handlers/noop.mjs); ` +
      `BullMQ ${bullmqVersion()} Workers with concurrency ${options.concurrency} (no-op processor, default options)`,
  );
  say(
    `  load: ${options.drivers} Node processes (the same program for both), ${options.inFlight} tasks in flight in all, ` +
      `${options.tasks} measured after ${options.warmUpTasks} warm-up; scalemesh: Balancer.Assign with await_result (submit and wait in one call); BullMQ: queue.add then job.waitUntilFinished(queueEvents)`,
  );
  say(`  Redis ${redisVersion ?? "not installed"} on 127.0.0.1`);
  for (const durability of PAIRS) {
    say("");
    say(`${durability.label}:`);
    say(`  scalemesh: ${LEDGER_TEXT[durability.ledgerSynchronous]}`);
    say(`  BullMQ:    Redis ${REDIS_PERSISTENCE_TEXT[durability.redis]}`);
    const scalemesh = await scalemeshRun(options, durability);
    let bullmq: LoadSummary | undefined;
    if (redisVersion === undefined) progress(REDIS_MISSING_MESSAGE);
    else bullmq = await bullmqRun(options, durability);
    say(row(["system", "tasks", "in flight", "throughput/s", "p50 ms", "p99 ms", "errors"]));
    say(summaryRow("scalemesh", options.inFlight, scalemesh));
    if (bullmq === undefined) {
      say(row(["BullMQ", "SKIPPED", "", "", "", "", ""]));
      say(`  BullMQ SKIPPED: ${REDIS_MISSING_MESSAGE}`);
    } else {
      say(summaryRow("BullMQ", options.inFlight, bullmq));
      say(ratioRow("scalemesh/BullMQ", scalemesh, bullmq));
    }
    for (const [system, s] of [
      ["scalemesh", scalemesh],
      ["BullMQ", bullmq],
    ] as const) {
      if (s !== undefined && s.errors > 0)
        say(`  ${system}: ${s.errors} task(s) failed; first: ${s.firstError}`);
    }
  }
  say(
    "  throughput = tasks that succeeded / wall time from the first submit to the last result; latencies from submit to result",
  );
}

/** The original system's target, as a line of its own: durable, on this machine. */
const TARGET = { tasksPerSec: 5_000, seconds: 60, meanMs: 100 } as const;

export async function benchTarget(
  env: Readonly<Record<string, string | undefined>>,
  say: Say,
): Promise<void> {
  const seconds = positiveInteger(env, "SCALEMESH_BENCH_TARGET_SECONDS", TARGET.seconds);
  const inFlight = positiveInteger(env, "SCALEMESH_BENCH_TARGET_IN_FLIGHT", 128);
  const durability: Durability = { label: "target", ledgerSynchronous: "full", redis: "none" };
  const options: EndToEndOptions = {
    inFlight,
    tasks: 0,
    warmUpTasks: 500,
    drivers: 2,
    workers: 2,
    concurrency: 128,
    seconds,
  };
  progress(
    `target: ${seconds} s of no-op tasks, ${inFlight} in flight, ledger.synchronous full...`,
  );
  const s = await scalemeshRun(options, durability);
  const isMet =
    s.throughputPerSec >= TARGET.tasksPerSec && s.meanMs < TARGET.meanMs && s.errors === 0;
  say("");
  say(
    `target: ${TARGET.tasksPerSec} tasks/s sustained for ${TARGET.seconds} s, mean latency under ${TARGET.meanMs} ms, durable (ledger.synchronous full)`,
  );
  say(
    `  scalemesh, ${inFlight} in flight for ${seconds} s, 2 worker agents of 128 slots: ${s.throughputPerSec.toFixed(0)} tasks/s (${(s.throughputPerSec / TARGET.tasksPerSec).toFixed(2)}x of the target), mean ${s.meanMs.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ${s.errors} failed: ${isMet ? "met" : "NOT met"}`,
  );
}
