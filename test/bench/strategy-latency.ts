// Real processes: task latency (submit -> result) under round robin, least
// connections and P2C peak-EWMA when workers differ in speed (1x..4x). The
// same pure strategies as the simulator (balancing-latency-sim.ts), here on
// a real mesh: 4 worker agents whose handler sleeps base/speed ms.
import { join } from "node:path";
import { TaskState } from "../../libs/contracts/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { startMesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

const STRATEGIES = ["round_robin", "least_connections", "p2c_peak_ewma"] as const;
const SPEEDS = [1, 2, 3, 4];
const SLOTS = 4;
const BASE_MS = 200;

export interface StrategyLatencyRow {
  readonly strategy: string;
  readonly tasks: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly shareOnSlowest: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

export async function benchStrategyLatency(
  say: (text: string) => void,
  options: { tasks?: number; load?: number } = {},
): Promise<StrategyLatencyRow[]> {
  const tasks = options.tasks ?? 1200;
  const load = options.load ?? 0.6;
  // Capacity in tasks/s: slots x speed / base time, summed over workers.
  const capacityPerSec = SPEEDS.reduce((sum, speed) => sum + (SLOTS * speed * 1000) / BASE_MS, 0);
  const ratePerSec = capacityPerSec * load;
  process.stderr.write(
    `starting 4 worker agents at 1x..4x speed (${SLOTS} slots each, ${BASE_MS} ms at 1x)...\n`,
  );
  const mesh = await startMesh({
    workers: 0,
    slots: SLOTS,
    handler: `module:${join(projectRoot(), "test", "bench", "handlers", "scaled-sleep.mjs")}`,
  });
  const rows: StrategyLatencyRow[] = [];
  try {
    for (const speed of SPEEDS)
      await mesh.startWorker(`speed-${speed}x`, [], { BENCH_WORKER_SPEED: String(speed) });
    await mesh.waitForWorkers(SPEEDS.length);
    for (const strategy of STRATEGIES) {
      process.stderr.write(
        `  ${strategy}: ${tasks} tasks at ${ratePerSec.toFixed(0)}/s (${Math.round(load * 100)} % of capacity)...\n`,
      );
      const latencies: number[] = [];
      const onWorker = new Map<string, number>();
      const payload = new TextEncoder().encode(JSON.stringify({ ms: BASE_MS }));
      const started = Date.now();
      const runs: Promise<void>[] = [];
      for (let n = 0; n < tasks; n += 1) {
        // Open loop: arrivals on a fixed schedule, whatever the latency.
        const due = started + (n * 1000) / ratePerSec;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const submitted = performance.now();
        runs.push(
          mesh.balancerClient
            .assign({ task: { payload }, strategy })
            .then((a) => mesh.balancerClient.awaitTask({ taskId: a.taskId }, { timeoutMs: 60_000 }))
            .then((done) => {
              if (done.task?.state !== TaskState.SUCCEEDED) return;
              latencies.push(performance.now() - submitted);
              const worker = done.task.workerId;
              onWorker.set(worker, (onWorker.get(worker) ?? 0) + 1);
            }),
        );
      }
      await Promise.all(runs);
      latencies.sort((a, b) => a - b);
      rows.push({
        strategy,
        tasks: latencies.length,
        p50Ms: quantile(latencies, 0.5),
        p99Ms: quantile(latencies, 0.99),
        meanMs: latencies.reduce((s, v) => s + v, 0) / Math.max(1, latencies.length),
        shareOnSlowest: (onWorker.get("speed-1x") ?? 0) / Math.max(1, latencies.length),
      });
    }
  } finally {
    await mesh.stop();
    await stopAll();
  }
  say(
    `real processes: 4 worker agents at 1x, 2x, 3x, 4x speed (${SLOTS} slots each, ${BASE_MS} ms per task at 1x), open-loop arrivals at ${Math.round(load * 100)} % of capacity`,
  );
  say("strategy            tasks   p50 ms   p99 ms  mean ms  share on 1x");
  for (const r of rows) {
    say(
      `${r.strategy.padEnd(18)} ${String(r.tasks).padStart(6)} ${r.p50Ms.toFixed(1).padStart(8)} ${r.p99Ms.toFixed(1).padStart(8)} ${r.meanMs.toFixed(1).padStart(8)} ${(r.shareOnSlowest * 100).toFixed(1).padStart(10)} %`,
    );
  }
  return rows;
}
