// Runs the end-to-end load from several e2e-driver processes at once (one
// Node process tops out near 6,000 unary calls/s here, and a scalemesh task
// is two calls) and merges what they measured into one summary.
import { startBenchProcess, type BenchLine } from "./bench-process.js";

export interface LoadShape {
  /** Tasks in flight across all drivers. */
  readonly inFlight: number;
  /** Tasks measured across all drivers. */
  readonly tasks: number;
  /** Tasks run before measuring, not counted. */
  readonly warmUpTasks: number;
  readonly drivers: number;
  /** Run for this long instead of a number of tasks. */
  readonly seconds?: number;
}

export interface LoadSummary {
  readonly tasks: number;
  readonly succeeded: number;
  readonly errors: number;
  readonly firstError: string;
  readonly elapsedSec: number;
  readonly throughputPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

/** Driver i's part of a total split over n drivers. */
function shareOf(total: number, i: number, n: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0);
}

export function quantileMs(sortedMs: readonly number[], q: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(q * sortedMs.length))] as number;
}

export async function runDrivers(
  label: string,
  systemArgs: readonly string[],
  shape: LoadShape,
): Promise<LoadSummary> {
  const drivers = Array.from({ length: shape.drivers }, (_, i) =>
    startBenchProcess(`${label} driver ${i + 1}`, "e2e-driver.js", [
      ...systemArgs,
      "--in-flight",
      String(shareOf(shape.inFlight, i, shape.drivers)),
      ...(shape.seconds === undefined
        ? ["--tasks", String(shareOf(shape.tasks, i, shape.drivers))]
        : ["--seconds", String(shape.seconds)]),
      "--warm-up",
      String(shareOf(shape.warmUpTasks, i, shape.drivers)),
    ]),
  );
  // Generous, but bounded: 20 ms a task is far below anything either system does here.
  const runTimeoutMs =
    shape.seconds === undefined
      ? Math.max(120_000, shape.tasks * 20)
      : shape.seconds * 1000 + 60_000;
  try {
    await Promise.all(
      drivers.map((d) => d.waitForLine((line) => line.msg === "driver ready", 120_000)),
    );
    for (const driver of drivers) driver.send("go");
    const done = await Promise.all(
      drivers.map((d) => d.waitForLine((line) => line.msg === "driver done", runTimeoutMs)),
    );
    return summarize(done);
  } finally {
    await Promise.all(drivers.map((d) => d.stop(5_000)));
  }
}

function summarize(done: readonly BenchLine[]): LoadSummary {
  const latenciesMs = done.flatMap((line) => line.latenciesMs as number[]).sort((a, b) => a - b);
  const errors = done.reduce((sum, line) => sum + Number(line.errors), 0);
  const startMs = Math.min(...done.map((line) => Number(line.startMs)));
  const endMs = Math.max(...done.map((line) => Number(line.endMs)));
  const elapsedSec = (endMs - startMs) / 1000;
  return {
    tasks: latenciesMs.length + errors,
    succeeded: latenciesMs.length,
    errors,
    firstError: done.map((line) => String(line.firstError ?? "")).find((text) => text !== "") ?? "",
    elapsedSec,
    throughputPerSec: latenciesMs.length / elapsedSec,
    p50Ms: quantileMs(latenciesMs, 0.5),
    p99Ms: quantileMs(latenciesMs, 0.99),
    meanMs: latenciesMs.reduce((sum, ms) => sum + ms, 0) / Math.max(1, latenciesMs.length),
  };
}
