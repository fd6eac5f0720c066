// The optimizer's own Prometheus metrics, on the process registry of libs/telemetry.
import { Counter, Gauge } from "prom-client";
import { registry } from "../../libs/telemetry/index.js";

export const desiredWorkersGauge = new Gauge({
  name: "scalemesh_optimizer_desired_workers",
  help: "Worker count of the latest recommendation (GetRecommendation).",
  registers: [registry],
});

export const samplesObservedCounter = new Counter({
  name: "scalemesh_optimizer_samples_total",
  help: "Load samples received on Observe, by outcome (accepted, rejected).",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

// Both series exist from the start, so a dashboard shows 0 rejected rather than nothing.
for (const outcome of ["accepted", "rejected"] as const) samplesObservedCounter.inc({ outcome }, 0);

export const predictedWorkersGauge = new Gauge({
  name: "scalemesh_optimizer_predicted_workers",
  help: "Workers the demand forecast calls for one lead time ahead (the latest recommendation).",
  registers: [registry],
});
