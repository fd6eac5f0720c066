// Latency simulator for the balancing strategies: p50/p99 task latency of
// round robin, least connections and P2C over peak EWMA when workers run at
// different speeds (1×–4×). Discrete-event and seeded, driving the same pure
// code the services use (libs/balancing's placement stack and health
// tracker); the same options print the same report. Run it directly with
// `node dist/test/bench/balancing-latency-sim.js` after a build.
//
// The model, as the system works: each worker offers the same number of slots
// (what workers report) but runs tasks at its own speed; a task goes to the
// first worker the strategy ranks among those with a free slot, or waits in
// one central FIFO queue (the coordinator's pending queue) when every slot is
// busy, and is placed by the same strategy when a slot frees. Latency is from
// arrival to completion, queueing included. Every strategy sees the same
// arrivals and the same work per task (common random numbers), so the
// differences are the strategies'.
import { pathToFileURL } from "node:url";
import {
  createHealthTracker,
  createPlacementStack,
  createSeededRandom,
  type PlacementRequest,
  type RandomSource,
  type StrategyName,
  type WorkerCandidate,
} from "../../libs/balancing/index.js";

export interface LatencySimulationOptions {
  readonly seed?: number;
  readonly tasks?: number;
  /** Tasks at the start left out of the figures while queues settle. */
  readonly warmupTasks?: number;
  readonly workers?: number;
  /** Speeds spread evenly from minSpeed to maxSpeed across the workers. */
  readonly minSpeed?: number;
  readonly maxSpeed?: number;
  readonly slotsPerWorker?: number;
  /** Mean task duration on a 1× worker (exponentially distributed). */
  readonly meanServiceMsAt1x?: number;
  /** Offered load as a share of the fleet's capacity (Poisson arrivals). */
  readonly utilization?: number;
  /** Peak-EWMA decay period of the health tracker that feeds P2C. */
  readonly latencyDecayMs?: number;
  readonly strategies?: readonly StrategyName[];
}

type Resolved = Required<LatencySimulationOptions>;

const DEFAULTS: Resolved = {
  seed: 1,
  tasks: 50_000,
  warmupTasks: 2_000,
  workers: 10,
  minSpeed: 1,
  maxSpeed: 4,
  slotsPerWorker: 4,
  meanServiceMsAt1x: 100,
  utilization: 0.7,
  latencyDecayMs: 10_000,
  strategies: ["round_robin", "least_connections", "p2c_peak_ewma"],
};

export interface StrategyLatency {
  readonly strategy: StrategyName;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Share of measured tasks that had to wait in the central queue. */
  readonly queuedShare: number;
  /** Share of measured tasks run by the slowest and by the fastest worker. */
  readonly slowestShare: number;
  readonly fastestShare: number;
}

export interface LatencySimulationResult {
  readonly options: Resolved;
  readonly speeds: readonly number[];
  readonly capacityPerSec: number;
  readonly arrivalsPerSec: number;
  readonly strategies: readonly StrategyLatency[];
}

interface Task {
  readonly index: number;
  readonly arrivalMs: number;
  /** Work in 1×-milliseconds: a worker at speed s takes workMs / s. */
  readonly workMs: number;
}

interface Completion {
  readonly atMs: number;
  readonly task: Task;
  readonly workerIndex: number;
  readonly startedMs: number;
}

export function runLatencySimulation(
  options: LatencySimulationOptions = {},
): LatencySimulationResult {
  const o: Resolved = { ...DEFAULTS, ...options };
  const speeds = Array.from({ length: o.workers }, (_, i) =>
    o.workers === 1 ? o.minSpeed : o.minSpeed + ((o.maxSpeed - o.minSpeed) * i) / (o.workers - 1),
  );
  const capacityPerSec =
    (speeds.reduce((sum, s) => sum + s, 0) * o.slotsPerWorker * 1000) / o.meanServiceMsAt1x;
  const arrivalsPerSec = capacityPerSec * o.utilization;
  const tasks = generateTasks(o, arrivalsPerSec, createSeededRandom(o.seed));
  return {
    options: o,
    speeds,
    capacityPerSec,
    arrivalsPerSec,
    strategies: o.strategies.map((strategy) => simulateStrategy(strategy, tasks, speeds, o)),
  };
}

function generateTasks(o: Resolved, arrivalsPerSec: number, random: RandomSource): Task[] {
  const meanGapMs = 1000 / arrivalsPerSec;
  let atMs = 0;
  return Array.from({ length: o.tasks }, (_, index) => {
    atMs += exponential(random, meanGapMs);
    return { index, arrivalMs: atMs, workMs: exponential(random, o.meanServiceMsAt1x) };
  });
}

function exponential(random: RandomSource, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

function simulateStrategy(
  strategy: StrategyName,
  tasks: readonly Task[],
  speeds: readonly number[],
  o: Resolved,
): StrategyLatency {
  // The strategy's own draws come from a source of their own, so they do not shift the workload.
  const stack = createPlacementStack({
    defaultStrategy: strategy,
    random: createSeededRandom(o.seed ^ 0x9e3779b9),
  });
  const tracker = createHealthTracker({ latencyDecayMs: o.latencyDecayMs });
  const workers: WorkerCandidate[] = speeds.map((_, i) => ({
    workerId: `w${String(i + 1).padStart(2, "0")}`,
    address: `sim-${i + 1}:1`,
    region: "sim",
    zone: "sim-a",
    capabilities: [],
    slots: o.slotsPerWorker,
    inFlight: 0,
    condition: "alive",
  }));
  const completions = createCompletionQueue();
  const pending: Task[] = [];
  const latenciesMs: number[] = [];
  const perWorker = speeds.map(() => 0);
  let queued = 0;

  const place = (task: Task, nowMs: number): boolean => {
    const request: PlacementRequest = {
      taskId: `t${task.index}`,
      routingKey: "",
      requiredCapabilities: [],
      preferredRegion: "",
      taskType: "",
      requiredRegion: "",
      requiredZone: "",
    };
    const ranking = stack.rank(workers, request, undefined, {
      nowMs,
      health: tracker.snapshot(nowMs),
    });
    const best = ranking.ranked[0];
    if (!best) return false;
    stack.commit(ranking, best.worker.workerId);
    const workerIndex = workers.findIndex((w) => w.workerId === best.worker.workerId);
    const worker = workers[workerIndex];
    workers[workerIndex] = { ...worker, inFlight: worker.inFlight + 1 };
    completions.push({
      atMs: nowMs + task.workMs / speeds[workerIndex],
      task,
      workerIndex,
      startedMs: nowMs,
    });
    return true;
  };

  const complete = (done: Completion): void => {
    const worker = workers[done.workerIndex];
    workers[done.workerIndex] = { ...worker, inFlight: worker.inFlight - 1 };
    tracker.recordOutcome(worker.workerId, {
      ok: true,
      latencyMs: done.atMs - done.startedMs,
      nowMs: done.atMs,
    });
    if (done.task.index >= o.warmupTasks) {
      latenciesMs.push(done.atMs - done.task.arrivalMs);
      perWorker[done.workerIndex] += 1;
    }
    // One slot freed: the head of the central queue goes next, placed by the same strategy.
    const next = pending[0];
    if (next && place(next, done.atMs)) pending.shift();
  };

  let nextArrival = 0;
  while (nextArrival < tasks.length || completions.size > 0) {
    const arrival = tasks[nextArrival];
    const completion = completions.peek();
    // Completions first at equal times: a slot freed at t is free for a task arriving at t.
    if (completion && (!arrival || completion.atMs <= arrival.arrivalMs)) {
      complete(completions.pop()!);
      continue;
    }
    nextArrival += 1;
    if (pending.length > 0 || !place(arrival, arrival.arrivalMs)) {
      pending.push(arrival);
      if (arrival.index >= o.warmupTasks) queued += 1;
    }
  }

  const measured = latenciesMs.length;
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    strategy,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: latenciesMs.reduce((sum, l) => sum + l, 0) / Math.max(1, measured),
    queuedShare: queued / Math.max(1, measured),
    slowestShare: perWorker[0] / Math.max(1, measured),
    fastestShare: perWorker[perWorker.length - 1] / Math.max(1, measured),
  };
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** A binary min-heap of completions by time (ties by task index, so runs replay exactly). */
function createCompletionQueue() {
  const heap: Completion[] = [];
  const before = (a: Completion, b: Completion) =>
    a.atMs < b.atMs || (a.atMs === b.atMs && a.task.index < b.task.index);
  const swap = (i: number, j: number) => {
    [heap[i], heap[j]] = [heap[j], heap[i]];
  };
  return {
    get size() {
      return heap.length;
    },
    peek: (): Completion | undefined => heap[0],
    push(item: Completion) {
      heap.push(item);
      for (let i = heap.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (!before(heap[i], heap[parent])) break;
        swap(i, parent);
        i = parent;
      }
    },
    pop(): Completion | undefined {
      const top = heap[0];
      const last = heap.pop();
      if (heap.length > 0 && last) {
        heap[0] = last;
        for (let i = 0; ;) {
          const left = 2 * i + 1;
          const right = left + 1;
          let smallest = i;
          if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
          if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
          if (smallest === i) break;
          swap(i, smallest);
          i = smallest;
        }
      }
      return top;
    },
  };
}

export function formatLatencyReport(result: LatencySimulationResult): string {
  const o = result.options;
  const percent = (share: number) => `${(share * 100).toFixed(1)} %`;
  const lines = [
    `balancing latency: ${o.workers} workers × ${o.slotsPerWorker} slots at speeds ${result.speeds.map((s) => `${s.toFixed(2)}×`).join(" ")}`,
    `tasks ${o.meanServiceMsAt1x} ms mean at 1× (exponential); Poisson arrivals at ${percent(o.utilization)} of capacity ` +
      `(${result.arrivalsPerSec.toFixed(0)}/s of ${result.capacityPerSec.toFixed(0)}/s); ${o.tasks.toLocaleString("en")} tasks, first ${o.warmupTasks.toLocaleString("en")} not measured; seed ${o.seed}`,
    "",
    `${"strategy".padEnd(20)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"mean ms".padStart(9)}${"queued".padStart(9)}${"on 1×".padStart(9)}${"on 4×".padStart(9)}`,
  ];
  for (const s of result.strategies) {
    lines.push(
      `${s.strategy.padEnd(20)}${s.p50Ms.toFixed(1).padStart(9)}${s.p99Ms.toFixed(1).padStart(9)}${s.meanMs.toFixed(1).padStart(9)}` +
        `${percent(s.queuedShare).padStart(9)}${percent(s.slowestShare).padStart(9)}${percent(s.fastestShare).padStart(9)}`,
    );
  }
  lines.push(
    "",
    "(on 1× / on 4×: share of tasks run by the slowest and the fastest worker; a speed-proportional split is 4.0 % / 16.0 %)",
  );
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  process.stdout.write(`${formatLatencyReport(runLatencySimulation())}\n`);
  process.stderr.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
