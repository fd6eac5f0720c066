// The coordinator's Prometheus metrics: counters bumped where things happen,
// gauges read from the coordinator when scraped (so they cannot drift from
// it). Task latencies are in task-metrics.ts, the ledger's commits in
// ledger-metrics.ts.
import { Counter, Gauge, Histogram } from "prom-client";
import { TaskState, WorkerState } from "../../libs/contracts/index.js";
import { registry } from "../../libs/telemetry/index.js";
import type { Coordinator } from "./coordinator.js";
import type { WorkerRecord } from "./worker-registry.js";

/** Counters bumped where things happen in the coordinator. */
export const coordinatorCounters = {
  staleResults: new Counter({
    name: "scalemesh_coordinator_stale_results_total",
    help: "Results from a worker that no longer owned the attempt (reassigned, cancelled or finished meanwhile); ignored.",
    registers: [registry],
  }),
  retries: new Counter({
    name: "scalemesh_coordinator_task_retries_total",
    help: "Failed attempts given another attempt (handler failure, timeout, lost or dead worker).",
    registers: [registry],
  }),
  deadLetters: new Counter({
    name: "scalemesh_coordinator_dead_lettered_tasks_total",
    help: "Tasks given up after their last attempt failed (DEAD_LETTERED).",
    registers: [registry],
  }),
  workerDeaths: new Counter({
    name: "scalemesh_coordinator_worker_deaths_total",
    help: "Workers declared dead (heartbeat timeout or no reconnect within the grace).",
    registers: [registry],
  }),
  heartbeatLagSeconds: new Histogram({
    name: "scalemesh_coordinator_heartbeat_lag_seconds",
    help: "How much later than its interval each worker heartbeat arrived (0 when on time).",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  }),
};

let source: { readonly coordinator: Coordinator; readonly now: () => number } | undefined;

new Gauge({
  name: "scalemesh_coordinator_tasks",
  help: "Tasks in the ledger by state.",
  labelNames: ["state"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [state, count] of source?.coordinator.ledger.countsByState() ?? [])
      this.set({ state: TaskState[state] }, count);
  },
});

new Gauge({
  name: "scalemesh_coordinator_workers",
  help: "Workers by state.",
  labelNames: ["state"] as const,
  registers: [registry],
  collect() {
    this.reset();
    const counts = source?.coordinator.workerCounts();
    if (!counts) return;
    for (const state of ["alive", "suspect", "draining", "dead"] as const)
      this.set({ state }, counts[state]);
  },
});

new Gauge({
  name: "scalemesh_coordinator_cordoned_workers",
  help: "Workers an operator cordoned (they keep what they run, get nothing new), whatever their state.",
  registers: [registry],
  collect() {
    let cordoned = 0;
    for (const record of source?.coordinator.workers.all() ?? [])
      if (record.isCordoned) cordoned += 1;
    this.set(cordoned);
  },
});

new Gauge({
  name: "scalemesh_coordinator_pending_tasks",
  help: "Tasks waiting for a slot (or for their retry backoff).",
  registers: [registry],
  collect() {
    this.set(source?.coordinator.pendingCount ?? 0);
  },
});

// One series per worker not dead, so bounded by the fleet; a dead worker's
// series go at once. Each walks the worker registry when scraped.
const perWorker = (options: {
  readonly name: string;
  readonly help: string;
  readonly valueOf: (record: WorkerRecord, coordinator: Coordinator, nowMs: number) => number;
}): Gauge<"worker_id"> =>
  new Gauge({
    name: options.name,
    help: options.help,
    labelNames: ["worker_id"] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (!source) return;
      const nowMs = source.now();
      for (const record of source.coordinator.workers.all()) {
        if (record.state === WorkerState.DEAD) continue;
        this.set(
          { worker_id: record.spec.workerId },
          options.valueOf(record, source.coordinator, nowMs),
        );
      }
    },
  });

perWorker({
  name: "scalemesh_coordinator_worker_slots",
  help: "Tasks each worker runs at once.",
  valueOf: (record) => record.spec.slots,
});
perWorker({
  name: "scalemesh_coordinator_worker_in_flight_tasks",
  help: "Tasks placed on each worker and not finished, stale attempts it still runs included.",
  valueOf: (record, coordinator) =>
    coordinator.ledger.unfinishedCount(record.spec.workerId) + record.staleRunning,
});
perWorker({
  name: "scalemesh_coordinator_worker_heartbeat_age_seconds",
  help: "Seconds since each worker's last heartbeat.",
  valueOf: (record, _coordinator, nowMs) => Math.max(0, nowMs - record.lastHeartbeatMs) / 1000,
});

// A counter read when scraped: a worker's session epoch only grows (a
// coordinator restart or a forgotten worker starts it again, which
// Prometheus' increase() takes as a counter reset).
new Counter({
  name: "scalemesh_coordinator_worker_sessions_total",
  help: "Sessions each known worker opened (its session epoch); one that keeps reconnecting flaps.",
  labelNames: ["worker_id"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const record of source?.coordinator.workers.all() ?? [])
      this.inc({ worker_id: record.spec.workerId }, Number(record.epoch));
  },
});

/** Points the gauges at this coordinator (one per process); `now` is its clock. */
export function observeCoordinator(coordinator: Coordinator, now: () => number): void {
  source = { coordinator, now };
}
