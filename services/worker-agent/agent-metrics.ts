// The worker agent's own Prometheus metrics, on the process registry of
// libs/telemetry (served at /metrics with the process metrics).
import { Counter, Gauge, Histogram } from "prom-client";
import { registry } from "../../libs/telemetry/index.js";
import { TASK_OUTCOME_KINDS, type TaskReport, type Worker } from "../../libs/worker-sdk/index.js";

export const tasksRunCounter = new Counter({
  name: "scalemesh_worker_tasks_total",
  help: "Tasks this worker finished, by outcome (succeeded, failed, timed_out, cancelled, rejected).",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const taskDurationSeconds = new Histogram({
  name: "scalemesh_worker_task_duration_seconds",
  help: "Time a task's handler ran, by outcome (refused assignments are not counted).",
  labelNames: ["outcome"] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

// Gauges read the worker when scraped, so they cannot drift from it.
let observed: { readonly worker: Worker; readonly slots: number } | undefined;

export const runningTasksGauge = new Gauge({
  name: "scalemesh_worker_running_tasks",
  help: "Tasks running on this worker now.",
  registers: [registry],
  collect() {
    this.set(observed?.worker.runningCount ?? 0);
  },
});

export const slotsGauge = new Gauge({
  name: "scalemesh_worker_slots",
  help: "Tasks this worker runs at once.",
  registers: [registry],
  collect() {
    this.set(observed?.slots ?? 0);
  },
});

export const unacknowledgedResultsGauge = new Gauge({
  name: "scalemesh_worker_unacknowledged_results",
  help: "Results the coordinator has not acknowledged yet (kept and re-sent after a reconnect until it does).",
  registers: [registry],
  collect() {
    this.set(observed?.worker.unacknowledgedResultCount ?? 0);
  },
});

export const connectedGauge = new Gauge({
  name: "scalemesh_worker_connected",
  help: "1 while registered with the coordinator on a live session, else 0.",
  registers: [registry],
  collect() {
    this.set(observed?.worker.isConnected ? 1 : 0);
  },
});

// Every outcome exists from the start, so a dashboard shows 0 failed rather than nothing.
for (const outcome of TASK_OUTCOME_KINDS) tasksRunCounter.inc({ outcome }, 0);

export function observeWorker(worker: Worker, slots: number): void {
  observed = { worker, slots };
}

/** The worker's onTaskFinished. */
export function recordTaskFinished(report: TaskReport): void {
  const { kind, durationMs } = report.outcome;
  tasksRunCounter.inc({ outcome: kind });
  if (kind !== "rejected") taskDurationSeconds.observe({ outcome: kind }, durationMs / 1000);
}
