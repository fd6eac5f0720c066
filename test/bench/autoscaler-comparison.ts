// scalemesh's autoscaling against what users would run instead: the
// Kubernetes HPA on CPU and KEDA on the queue length (anchor-controllers.ts),
// and scalemesh's reactive and predictive policies (predictive-sim.ts), on
// the same seeded traces, the same fluid fleet and the same worker start
// time. One table per trace, every figure also as a ratio to the HPA's.
// Run it with `node dist/test/bench/autoscaler-comparison.js` after a build
// (`SCALEMESH_BENCH_ONLY=forecast npm run bench` prints the same).
import { pathToFileURL } from "node:url";
import {
  autoscalePolicyOf,
  hardMaxWorkersOf,
} from "../../services/coordinator/autoscale-policy-config.js";
import { createHpaController, createKedaController } from "./anchor-controllers.js";
import {
  DEFAULT_MODEL,
  DIRECTION_WINDOW_SEC,
  runFleet,
  type FleetModel,
  type FleetOutcome,
  openingRateOf,
} from "./fleet-sim.js";
import { benchConfig, simulatePolicy, workersForRate } from "./predictive-sim.js";
import { buildTrace, TRACE_NAMES, type Trace } from "./scaling-traces.js";

export const COMPARED = ["hpa", "keda", "reactive", "predictive-optimizer", "predictive"] as const;
export type ComparedPolicy = (typeof COMPARED)[number];

export interface ComparisonRow extends FleetOutcome {
  readonly policy: ComparedPolicy;
}

export interface ComparisonResult {
  readonly seed: number;
  readonly model: FleetModel;
  readonly traces: readonly { readonly trace: Trace; readonly rows: readonly ComparisonRow[] }[];
}

export function simulateCompared(
  trace: Trace,
  policy: ComparedPolicy,
  model: FleetModel = DEFAULT_MODEL,
): ComparisonRow {
  const config = benchConfig();
  const initialWorkers = workersForRate(openingRateOf(trace), model, config);
  const bounds = { minReplicas: config.scaling.min_workers, maxReplicas: hardMaxWorkersOf(config) };
  const target = autoscalePolicyOf(config).targets.slotUtilization;
  if (policy === "reactive" || policy === "predictive-optimizer" || policy === "predictive")
    return { ...simulatePolicy({ trace, policy, model, config, initialWorkers }), policy };
  const controller =
    policy === "hpa"
      ? createHpaController({ model, bounds, targetUtilization: target, tickSec: trace.tickSec })
      : createKedaController({ model, bounds, queueLengthTarget: kedaQueueLength(model) });
  return { policy, ...runFleet({ trace, model, initialWorkers, controller }) };
}

/** KEDA's queueLength is an integer: the nearest below slots × target, the share of a worker the others aim at. */
export function kedaQueueLength(model: FleetModel): number {
  const target = autoscalePolicyOf(benchConfig()).targets.slotUtilization;
  return Math.max(1, Math.floor(model.slotsPerWorker * target));
}

export function runComparison(
  options: {
    readonly seed?: number;
    readonly traces?: readonly (typeof TRACE_NAMES)[number][];
    readonly model?: FleetModel;
    readonly progress?: (line: string) => void;
  } = {},
): ComparisonResult {
  const seed = options.seed ?? 1;
  const model = options.model ?? DEFAULT_MODEL;
  const traces = (options.traces ?? TRACE_NAMES).map((name) => {
    const trace = buildTrace(name, seed);
    const rows = COMPARED.map((policy) => {
      const startedMs = performance.now();
      const row = simulateCompared(trace, policy, model);
      options.progress?.(
        `forecast: ${name} / ${policy} simulated in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`,
      );
      return row;
    });
    return { trace, rows };
  });
  return { seed, model, traces };
}

const LABELS: Record<ComparedPolicy, string> = {
  hpa: "Kubernetes HPA (CPU)",
  keda: "KEDA (queue length)",
  reactive: "scalemesh reactive",
  "predictive-optimizer": "scalemesh predictive, as deployed (optimizer's Holt)",
  predictive: "scalemesh predictive (seasonal, error-gated)",
};

export function formatComparison(result: ComparisonResult): string {
  const m = result.model;
  const config = benchConfig();
  const lines = [
    `Autoscalers compared (simulated time, seed ${result.seed}): tasks of ${m.taskSec} s, ${m.slotsPerWorker} slots per worker, every worker ready ${m.workerStartSec} s after the ask; SLO: queue wait ≤ ${m.sloWaitSec} s. ` +
      `All aim at ${autoscalePolicyOf(config).targets.slotUtilization.toFixed(2)} of the slots (KEDA: queueLength ${kedaQueueLength(m)} per worker, an integer), min ${config.scaling.min_workers}, max ${hardMaxWorkersOf(config)} workers. ` +
      `HPA: default behaviour, 15 s sync, CPU from metrics-server every 15 s; KEDA: 30 s polling, 300 s cool-down, the HPA above one replica; scalemesh: the coordinator's defaults.`,
  ];
  for (const { trace, rows } of result.traces) {
    const hpa = rows.find((r) => r.policy === "hpa");
    lines.push(
      "",
      `${trace.name}: ${trace.description}`,
      "",
      `| autoscaler | SLO-violation min | worker-hours | direction changes per ${DIRECTION_WINDOW_SEC / 60} min | time to enough workers after the rise |`,
      "|---|---|---|---|---|",
    );
    for (const row of rows) {
      lines.push(
        `| ${LABELS[row.policy]} | ${withRatio(row.sloViolationMin, hpa?.sloViolationMin, 1)} | ${withRatio(row.workerHours, hpa?.workerHours, 1)} | ${withRatio(row.directionChangesPerWindow, hpa?.directionChangesPerWindow, 3)} | ${timeToEnough(row, hpa)} |`,
      );
    }
    const predictive = rows.find((r) => r.policy === "predictive");
    if (predictive?.mape !== undefined)
      lines.push(
        "",
        `(scalemesh predictive: ${predictive.predictiveScaleUps} scale-ups ahead of the load; its demand forecasts one lead time ahead were off by ${(predictive.mape * 100).toFixed(1)} % on average.)`,
      );
  }
  lines.push(
    "",
    "(Each figure, then in brackets its ratio to the HPA's; — where the HPA's is 0. Time to enough workers: from the rise to ready capacity for the new rate.)",
  );
  return lines.join("\n");
}

function withRatio(value: number, anchor: number | undefined, digits: number): string {
  const shown = value.toFixed(digits);
  if (anchor === undefined || anchor === 0) return value === 0 ? `${shown} (—)` : `${shown} (—)`;
  return `${shown} (${(value / anchor).toFixed(2)})`;
}

function timeToEnough(row: ComparisonRow, hpa: ComparisonRow | undefined): string {
  if (row.timeToEnoughSec === undefined) return "—";
  if (!Number.isFinite(row.timeToEnoughSec)) return "never";
  const anchor = hpa?.timeToEnoughSec;
  const ratio =
    anchor !== undefined && Number.isFinite(anchor) && anchor > 0
      ? ` (${(row.timeToEnoughSec / anchor).toFixed(2)})`
      : "";
  return `${row.timeToEnoughSec.toFixed(0)} s${ratio}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const result = runComparison({ progress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${formatComparison(result)}\n`);
  process.stderr.write(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
