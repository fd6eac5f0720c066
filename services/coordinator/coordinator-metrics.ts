// The coordinator's Prometheus metrics: counters bumped where things happen,
// gauges read from the coordinator when scraped.
import { Counter, Gauge } from "prom-client";
import { TaskState } from "../../libs/contracts/index.js";
import { registry } from "../../libs/telemetry/index.js";
import type { Coordinator } from "./coordinator.js";

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
  workerDeaths: new Counter({
    name: "scalemesh_coordinator_worker_deaths_total",
    help: "Workers declared dead (heartbeat timeout or no reconnect within the grace).",
    registers: [registry],
  }),
};

let source: Coordinator | undefined;

new Gauge({
  name: "scalemesh_coordinator_tasks",
  help: "Tasks in the ledger by state.",
  labelNames: ["state"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [state, count] of source?.ledger.countsByState() ?? [])
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
    const counts = source?.workerCounts();
    if (!counts) return;
    for (const state of ["alive", "suspect", "draining", "dead"] as const)
      this.set({ state }, counts[state]);
  },
});

new Gauge({
  name: "scalemesh_coordinator_pending_tasks",
  help: "Tasks waiting for a slot (or for their retry backoff).",
  registers: [registry],
  collect() {
    this.set(source?.pendingCount ?? 0);
  },
});

/** Points the gauges at this coordinator (one per process). */
export function observeCoordinator(coordinator: Coordinator): void {
  source = coordinator;
}
