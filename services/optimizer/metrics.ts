// The optimizer's own Prometheus metrics, on the process registry of libs/telemetry.
import { Counter, Gauge, Histogram } from "prom-client";
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

export const demandForecastErrorRatio = new Histogram({
  name: "scalemesh_optimizer_demand_forecast_error_ratio",
  help: "Each recommendation's demand forecast against the demand that came at its lead time: |actual - predicted| / max(actual, 1).",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
  registers: [registry],
});

export const demandForecastMapeRatio = new Gauge({
  name: "scalemesh_optimizer_demand_forecast_mape_ratio",
  help: "Mean absolute percentage error of the latest demand forecast's one-step fits, as a fraction (NaN until measurable).",
  registers: [registry],
});
demandForecastMapeRatio.set(Number.NaN);
