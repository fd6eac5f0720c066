// Hashing simulator: how rendezvous and Maglev hashing, with and without
// bounded loads, spread keys, how many keys move when the fleet changes,
// and what a skewed load does to balance and affinity over time. Pure and
// seeded: the same options print the same report. Run it directly with
// `node dist/test/bench/hashing-sim.js` after a build.
import { pathToFileURL } from "node:url";
import {
  createConsistentHashStrategy,
  createMaglevStrategy,
  DEFAULT_OVERFLOW_CANDIDATES,
  maglevLookup,
  maglevTableFor,
  rendezvousOrder,
  type PlacementContext,
  type Strategy,
  type WorkerCandidate,
} from "../../libs/balancing/hashing/index.js";
import { createSeededRandom } from "../../libs/balancing/seeded-random.js";
import type { RandomSource } from "../../libs/balancing/types.js";

export interface HashingSimulationOptions {
  readonly seed?: number;
  readonly workers?: number;
  /** Keys for the spread and movement measurements. */
  readonly keys?: number;
  /** Tasks in flight at every moment of the skew runs (a closed loop). */
  readonly inFlight?: number;
  /** Distinct keys in the skew runs. */
  readonly skewKeys?: number;
  readonly zipfExponent?: number;
  /** Share of all tasks carried by the one hot key in the hot-key mix. */
  readonly hotKeyShare?: number;
  /** Placements per skew run, after the warm-up. */
  readonly placements?: number;
  readonly warmupPlacements?: number;
  /** Skew runs per scenario, each with its own key names (so its own homes); results are averaged. */
  readonly trials?: number;
  /** The bound's c. */
  readonly c?: number;
  /** K for the headline strategies (Infinity = every other worker, the library's default). */
  readonly overflowCandidates?: number;
  /** The K values the sweep compares (rendezvous + bounded; Infinity = all). */
  readonly sweep?: readonly number[];
}

type Resolved = Required<HashingSimulationOptions>;

const DEFAULTS: Resolved = {
  seed: 1,
  workers: 10,
  keys: 20_000,
  inFlight: 200,
  skewKeys: 1_000,
  zipfExponent: 1.1,
  hotKeyShare: 0.3,
  placements: 12_000,
  warmupPlacements: 2_000,
  trials: 4,
  c: 1.25,
  overflowCandidates: DEFAULT_OVERFLOW_CANDIDATES,
  sweep: [1, 3, 5, 7, Number.POSITIVE_INFINITY],
};

/** Given the worker ids, the function from key to home: the hash alone, no load. */
type HomeFinder = (workerIds: readonly string[]) => (key: string) => string;

const rendezvousHomes: HomeFinder = (ids) => (key) => rendezvousOrder(key, ids)[0] ?? "";
// One table per id set, looked up directly (maglevOrder would also rank the rest).
const maglevHomes: HomeFinder = (ids) => {
  const table = maglevTableFor(ids);
  return (key) => maglevLookup(table, key) ?? "";
};

interface Contender {
  readonly label: string;
  readonly homes: HomeFinder;
  readonly strategy: Strategy;
}

const kLabel = (k: number): string => (k === Number.POSITIVE_INFINITY ? "all" : String(k));

/** Plain rendezvous: always the home, however loaded (the baseline). */
function createUnboundedRendezvous(): Strategy {
  return {
    name: "rendezvous_unbounded",
    rank(feasible, request) {
      const byId = new Map(feasible.map((worker) => [worker.workerId, worker]));
      const order = rendezvousOrder(request.routingKey || request.taskId, [...byId.keys()]);
      return order.map((id, index) => ({
        worker: byId.get(id) as WorkerCandidate,
        score: order.length - index,
      }));
    },
  };
}

function rendezvousBounded(
  options: Resolved,
  k: number,
  label = `rendezvous + bounded (K=${kLabel(k)})`,
): Contender {
  return {
    label,
    homes: rendezvousHomes,
    strategy: createConsistentHashStrategy({ c: options.c, overflowCandidates: k }),
  };
}

function contenders(options: Resolved): Contender[] {
  const k = options.overflowCandidates;
  return [
    rendezvousBounded(options, k),
    {
      label: `maglev + bounded (K=${kLabel(k)})`,
      homes: maglevHomes,
      strategy: createMaglevStrategy({ c: options.c, overflowCandidates: k }),
    },
    {
      label: "rendezvous, unbounded",
      homes: rendezvousHomes,
      strategy: createUnboundedRendezvous(),
    },
  ];
}

function workerIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `worker-${i + 1}`);
}

// ---------------------------------------------------------------- spread and movement

export interface SpreadRow {
  readonly label: string;
  /** Keys per worker over the average: the fullest and the emptiest worker. */
  readonly maxOverAverage: number;
  readonly minOverAverage: number;
  /** Adding worker n+1: share of keys whose home changed (ideal 1/(n+1)). */
  readonly movedOnAdd: number;
  /** ... of which moved between two workers that were already there (ideal 0). */
  readonly strayOnAdd: number;
  /** Removing one worker, mean over removing each in turn (ideal 1/n). */
  readonly movedOnRemove: number;
  readonly strayOnRemove: number;
}

function homes(finder: HomeFinder, keys: readonly string[], ids: readonly string[]): string[] {
  return keys.map(finder(ids));
}

function measureSpread(contender: Contender, options: Resolved): SpreadRow {
  const keys = Array.from({ length: options.keys }, (_, i) => `tenant-${i}`);
  const ids = workerIds(options.workers);
  const before = homes(contender.homes, keys, ids);
  const perWorker = ids.map((id) => before.filter((home) => home === id).length);
  const average = options.keys / options.workers;

  const added = `worker-${options.workers + 1}`;
  const afterAdd = homes(contender.homes, keys, [...ids, added]);
  let movedOnAdd = 0;
  let strayOnAdd = 0;
  afterAdd.forEach((home, i) => {
    if (home === before[i]) return;
    movedOnAdd += 1;
    if (home !== added) strayOnAdd += 1;
  });

  let movedOnRemove = 0;
  let strayOnRemove = 0;
  for (const removed of ids) {
    const afterRemove = homes(
      contender.homes,
      keys,
      ids.filter((id) => id !== removed),
    );
    afterRemove.forEach((home, i) => {
      if (home === before[i]) return;
      movedOnRemove += 1;
      if (before[i] !== removed) strayOnRemove += 1;
    });
  }
  const removals = options.keys * ids.length;
  return {
    label: contender.label,
    maxOverAverage: Math.max(...perWorker) / average,
    minOverAverage: Math.min(...perWorker) / average,
    movedOnAdd: movedOnAdd / options.keys,
    strayOnAdd: strayOnAdd / options.keys,
    movedOnRemove: movedOnRemove / removals,
    strayOnRemove: strayOnRemove / removals,
  };
}

// ---------------------------------------------------------------- skew over time

export type SkewScenario = "zipf" | "hot_key";

export interface SkewRow {
  readonly label: string;
  readonly scenario: SkewScenario;
  /** Fullest worker's in-flight over the mean, sampled over time: median and worst. */
  readonly maxOverMeanP50: number;
  readonly maxOverMeanMax: number;
  /** Share of all placements on their key's home worker. */
  readonly atHome: number;
  /** The most its home workers could have taken under the bound, from the key shares (an upper limit for atHome). */
  readonly atHomeCeiling: number;
  /** Share of the hottest key's placements on its home. */
  readonly hotAtHome: number;
  /** Workers that ran at least 1 % of the hottest key's tasks. */
  readonly hotKeyWorkers: number;
  /** Quietest worker's in-flight over the mean, sampled over time: median and 10th percentile. */
  readonly quietestOverMeanP50: number;
  readonly quietestOverMeanP10: number;
}

/** Cumulative weights of the key mix: Zipf over all keys, or one hot key and the rest uniform. */
function keyMix(options: Resolved, scenario: SkewScenario): Float64Array {
  const weights = Array.from({ length: options.skewKeys }, (_, rank) =>
    scenario === "zipf"
      ? (rank + 1) ** -options.zipfExponent
      : rank === 0
        ? options.hotKeyShare
        : (1 - options.hotKeyShare) / (options.skewKeys - 1),
  );
  const total = weights.reduce((sum, w) => sum + w, 0);
  const cumulative = new Float64Array(weights.length);
  let running = 0;
  weights.forEach((w, i) => {
    running += w / total;
    cumulative[i] = running;
  });
  return cumulative;
}

function drawKey(cumulative: Float64Array, random: RandomSource): number {
  const u = random();
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (cumulative[mid]! > u) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** Completion events, earliest first (a binary heap). */
function createCompletionQueue() {
  const heap: { atTime: number; worker: number }[] = [];
  return {
    push(event: { atTime: number; worker: number }): void {
      heap.push(event);
      for (let i = heap.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (heap[parent]!.atTime <= heap[i]!.atTime) break;
        [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
        i = parent;
      }
    },
    pop(): { atTime: number; worker: number } {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ;) {
          const left = 2 * i + 1;
          const smallest = [left, left + 1].reduce(
            (s, c) => (c < heap.length && heap[c]!.atTime < heap[s]!.atTime ? c : s),
            i,
          );
          if (smallest === i) break;
          [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
          i = smallest;
        }
      }
      return top;
    },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

interface TrialResult {
  maxOverMean: number[];
  quietestOverMean: number[];
  atHome: number;
  atHomeCeiling: number;
  hotAtHome: number;
  hotKeyWorkers: number;
}

/**
 * One closed-loop run: `inFlight` tasks always running, each for an
 * exponential time (mean 1); a completion frees its slot and a new task with
 * a key drawn from the mix is placed at once. With exponential service the
 * total completion rate is constant, so the time between events does not
 * depend on the state, and sampling the state after every event is sampling
 * it uniformly over time.
 */
function runSkewTrial(
  contender: Contender,
  options: Resolved,
  scenario: SkewScenario,
  trial: number,
): TrialResult {
  const random = createSeededRandom(
    options.seed * 7919 + trial * 104_729 + (scenario === "zipf" ? 0 : 1),
  );
  const ids = workerIds(options.workers);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const keys = Array.from({ length: options.skewKeys }, (_, i) => `t${trial}-key-${i}`);
  const homeIndexOf = keys.map(contender.homes(ids)).map((home) => indexOf.get(home) ?? -1);
  const cumulative = keyMix(options, scenario);
  // Slots never bind: the bound does first. Records are replaced, not
  // mutated, when a worker's in-flight changes (strategies see plain data).
  const workerWith = (i: number, inFlight: number): WorkerCandidate => ({
    workerId: ids[i]!,
    address: "",
    region: "r1",
    zone: "z1",
    capabilities: [],
    slots: options.inFlight,
    inFlight,
    condition: "alive",
  });
  const workers = ids.map((_, i) => workerWith(i, 0));
  const inFlight = new Array<number>(ids.length).fill(0);
  const move = (i: number, delta: number): void => {
    inFlight[i]! += delta;
    workers[i] = workerWith(i, inFlight[i]!);
  };
  const queue = createCompletionQueue();
  const health = new Map();

  const samples: TrialResult = {
    maxOverMean: [],
    quietestOverMean: [],
    atHome: 0,
    atHomeCeiling: 0,
    hotAtHome: 0,
    hotKeyWorkers: 0,
  };
  let placed = 0;
  let hotPlaced = 0;
  const hotPerWorker = new Array<number>(ids.length).fill(0);
  const mean = options.inFlight / ids.length;

  const place = (atTime: number): void => {
    const keyIndex = drawKey(cumulative, random);
    const request = {
      taskId: `task-${placed}`,
      routingKey: keys[keyIndex]!,
      requiredCapabilities: [],
      preferredRegion: "",
      taskType: "",
      requiredRegion: "",
      requiredZone: "",
    };
    const context: PlacementContext = { nowMs: atTime * 1000, random, health, eligible: workers };
    const chosen = contender.strategy.rank(workers, request, context)[0];
    const worker = indexOf.get(chosen?.worker.workerId ?? "") ?? 0;
    move(worker, +1);
    queue.push({ atTime: atTime - Math.log(1 - random()), worker });
    placed += 1;
    if (placed <= options.warmupPlacements) return;
    const isHome = worker === homeIndexOf[keyIndex];
    if (isHome) samples.atHome += 1;
    if (keyIndex === 0) {
      hotPlaced += 1;
      hotPerWorker[worker]! += 1;
      if (isHome) samples.hotAtHome += 1;
    }
    samples.maxOverMean.push(Math.max(...inFlight) / mean);
    samples.quietestOverMean.push(Math.min(...inFlight) / mean);
  };

  for (let i = 0; i < options.inFlight; i += 1) place(0);
  while (placed < options.warmupPlacements + options.placements) {
    const completion = queue.pop();
    move(completion.worker, -1);
    place(completion.atTime);
  }

  // What the homes could hold: each worker takes at most the bound of its
  // own keys' expected demand (Jensen: fluctuations only lower it).
  const bound = Math.ceil((options.c * options.inFlight) / ids.length);
  const demand = new Array<number>(ids.length).fill(0);
  cumulative.forEach((upTo, i) => {
    demand[homeIndexOf[i]!]! += (upTo - (i === 0 ? 0 : cumulative[i - 1]!)) * options.inFlight;
  });
  const isBounded = contender.strategy.name !== "rendezvous_unbounded";
  samples.atHomeCeiling = isBounded
    ? demand.reduce((sum, d) => sum + Math.min(bound, d), 0) / options.inFlight
    : 1;
  samples.atHome /= options.placements;
  samples.hotAtHome /= Math.max(1, hotPlaced);
  samples.hotKeyWorkers = hotPerWorker.filter((count) => count >= 0.01 * hotPlaced).length;
  return samples;
}

function average(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
}

function measureSkew(contender: Contender, options: Resolved, scenario: SkewScenario): SkewRow {
  const trials = Array.from({ length: options.trials }, (_, trial) =>
    runSkewTrial(contender, options, scenario, trial),
  );
  const p = (pick: (t: TrialResult) => number[], q: number): number =>
    average(
      trials.map((t) =>
        quantile(
          [...pick(t)].sort((a, b) => a - b),
          q,
        ),
      ),
    );
  return {
    label: contender.label,
    scenario,
    maxOverMeanP50: p((t) => t.maxOverMean, 0.5),
    maxOverMeanMax: Math.max(...trials.map((t) => Math.max(...t.maxOverMean))),
    atHome: average(trials.map((t) => t.atHome)),
    atHomeCeiling: average(trials.map((t) => t.atHomeCeiling)),
    hotAtHome: average(trials.map((t) => t.hotAtHome)),
    hotKeyWorkers: average(trials.map((t) => t.hotKeyWorkers)),
    quietestOverMeanP50: p((t) => t.quietestOverMean, 0.5),
    quietestOverMeanP10: p((t) => t.quietestOverMean, 0.1),
  };
}

// ---------------------------------------------------------------- the run and its report

export interface HashingSimulationResult {
  readonly options: Resolved;
  readonly spread: readonly SpreadRow[];
  readonly skew: readonly SkewRow[];
  /** Rendezvous + bounded at each K of options.sweep, both scenarios. */
  readonly sweep: readonly SkewRow[];
}

export function runHashingSimulation(
  options: HashingSimulationOptions = {},
): HashingSimulationResult {
  const resolved: Resolved = { ...DEFAULTS, ...options };
  const scenarios: SkewScenario[] = ["zipf", "hot_key"];
  const all = contenders(resolved);
  // Bounded loads never move a home: bounded and unbounded rendezvous share a spread.
  const spreadByHash = new Map<HomeFinder, SpreadRow>();
  const spread = all.map((contender) => {
    const row = spreadByHash.get(contender.homes) ?? measureSpread(contender, resolved);
    spreadByHash.set(contender.homes, row);
    return { ...row, label: contender.label };
  });
  const sweep = resolved.sweep.flatMap((k) => {
    const label = `K=${kLabel(k)}${k === 1 ? " (the paper's rule: next under bound)" : ""}${k === resolved.overflowCandidates ? " (default)" : ""}`;
    return scenarios.map((scenario) =>
      measureSkew(rendezvousBounded(resolved, k, label), resolved, scenario),
    );
  });
  const skew = scenarios.flatMap((scenario) =>
    all.map((contender, i) => {
      // The headline rendezvous row is one of the sweep's rows when K is in the sweep: reuse it.
      const same =
        i === 0
          ? sweep.find((r) => r.scenario === scenario && r.label.endsWith("(default)"))
          : undefined;
      return same !== undefined
        ? { ...same, label: contender.label }
        : measureSkew(contender, resolved, scenario);
    }),
  );
  return { options: resolved, spread, skew, sweep };
}

const percent = (x: number): string => `${(100 * x).toFixed(1)} %`;
const ratio = (x: number): string => x.toFixed(2);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function skewTable(rows: readonly SkewRow[]): string[] {
  return table(
    [
      "",
      "max/avg p50",
      "max/avg max",
      "at home",
      "(ceiling)",
      "hot key at home",
      "hot key's workers",
      "quietest/mean p50",
      "p10",
    ],
    rows.map((r) => [
      r.label,
      ratio(r.maxOverMeanP50),
      ratio(r.maxOverMeanMax),
      percent(r.atHome),
      percent(r.atHomeCeiling),
      percent(r.hotAtHome),
      r.hotKeyWorkers.toFixed(1),
      ratio(r.quietestOverMeanP50),
      ratio(r.quietestOverMeanP10),
    ]),
  );
}

export function formatHashingReport(
  result: HashingSimulationResult = runHashingSimulation(),
): string {
  const o = result.options;
  const n = o.workers;
  const lines: string[] = [];
  lines.push(
    `hashing: ${o.keys.toLocaleString("en")} keys over ${n} equal workers (seed ${o.seed}, c = ${o.c})`,
  );
  lines.push(
    ...table(
      ["", "keys max/avg", "min/avg", `moved, add #${n + 1}`, "stray", "moved, remove 1", "stray"],
      [
        ...result.spread.map((r) => [
          r.label,
          ratio(r.maxOverAverage),
          ratio(r.minOverAverage),
          percent(r.movedOnAdd),
          percent(r.strayOnAdd),
          percent(r.movedOnRemove),
          percent(r.strayOnRemove),
        ]),
        ["ideal", "1.00", "1.00", percent(1 / (n + 1)), "0.0 %", percent(1 / n), "0.0 %"],
      ],
    ),
  );
  lines.push(
    "  (bounded loads never move a home, so each bounded row shares its hash's spread; stray = moved between two workers",
  );
  lines.push(
    "   not involved in the change; removal is the mean over removing each worker in turn)",
  );
  lines.push("");
  const trials = `${o.trials} key sets × ${o.placements.toLocaleString("en")} placements after ${o.warmupPlacements.toLocaleString("en")} warm-up`;
  const scenarioTitle = {
    zipf: `skew, Zipf ${o.zipfExponent} over ${o.skewKeys.toLocaleString("en")} keys`,
    hot_key: `skew, one key carries ${percent(o.hotKeyShare)} of tasks, the rest uniform over ${(o.skewKeys - 1).toLocaleString("en")} keys`,
  } as const;
  for (const scenario of ["zipf", "hot_key"] as const) {
    lines.push(
      `${scenarioTitle[scenario]}: ${o.inFlight} tasks in flight on ${n} workers, bound ⌈${o.c}·avg⌉; ${trials}`,
    );
    lines.push(...skewTable(result.skew.filter((r) => r.scenario === scenario)));
    lines.push("");
  }
  lines.push(
    "reference, HAProxy 2.6 hash-balance-factor 125: max/avg 1.25, 62–74 % at home, hot key 32–49 % at home, quietest 0.59–0.67 of the mean",
  );
  lines.push("goal: max/avg ≤ 1.25, ≥ 80 % at home, quietest ≥ 0.8 of the mean");
  lines.push("");
  lines.push(
    `overflow rule, rendezvous + bounded: the least loaded of the key's next K workers under the bound`,
  );
  for (const scenario of ["zipf", "hot_key"] as const) {
    lines.push(`${scenarioTitle[scenario]}`);
    lines.push(...skewTable(result.sweep.filter((r) => r.scenario === scenario)));
  }
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  process.stdout.write(`${formatHashingReport()}\n`);
  process.stderr.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
