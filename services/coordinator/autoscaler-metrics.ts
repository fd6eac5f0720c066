// The autoscaler's Prometheus metrics. `scalemesh_autoscaler_desired_workers`
// is also what the external provider exists for: KEDA or an HPA scrape it
// and act themselves.
import { Counter, Gauge, Histogram } from "prom-client";
import { registry } from "../../libs/telemetry/index.js";

export const autoscalerMetrics = {
  desired: new Gauge({
    name: "scalemesh_autoscaler_desired_workers",
    help: "Workers the autoscaler wants (external provider: for KEDA or an HPA to act on).",
    registers: [registry],
  }),
  current: new Gauge({
    name: "scalemesh_autoscaler_ready_workers",
    help: "Workers registered, alive and taking tasks.",
    registers: [registry],
  }),
  starting: new Gauge({
    name: "scalemesh_autoscaler_starting_workers",
    help: "Workers asked of the provider that have not registered yet.",
    registers: [registry],
  }),
  scaleUps: new Counter({
    name: "scalemesh_autoscaler_scale_ups_total",
    help: "Scale-up actions taken.",
    registers: [registry],
  }),
  scaleDowns: new Counter({
    name: "scalemesh_autoscaler_scale_downs_total",
    help: "Scale-down actions taken.",
    registers: [registry],
  }),
  failed: new Counter({
    name: "scalemesh_autoscaler_failed_operations_total",
    help: "Provider operations that failed (start, stop, replace, list) and starts that never registered.",
    registers: [registry],
  }),
  minWorkers: new Gauge({
    name: "scalemesh_autoscaler_min_workers",
    help: "The autoscaler's lower bound (scaling.min_workers).",
    registers: [registry],
  }),
  maxWorkers: new Gauge({
    name: "scalemesh_autoscaler_max_workers",
    help: "The autoscaler's upper bound outside a burst (scaling.max_workers).",
    registers: [registry],
  }),
  decisions: new Counter({
    name: "scalemesh_autoscaler_decisions_total",
    help: "Sync decisions, by the reason the policy gave (WithinTolerance, ScaleUp, AtMaximum, Manual, ...).",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  timeToHealthy: new Histogram({
    name: "scalemesh_autoscaler_time_to_healthy_seconds",
    help: "From asking the provider for a worker to that worker registered with the coordinator.",
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers: [registry],
  }),
};
