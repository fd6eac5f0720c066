// The policy's settings from the config. The seed's two thresholds keep
// their meaning: the target slot utilization is halfway between them and
// each direction's tolerance reaches its threshold, so the fleet moves only
// when utilization leaves [scale_down_threshold, scale_up_threshold] and
// then aims for the middle (the HPA's ratio rule with a per-direction band).
import type { Config } from "../../libs/config/index.js";
import type { AutoscaleConfig, RatePolicy } from "../../libs/scaling/index.js";

export function hardMaxWorkersOf(config: Config): number {
  return (
    config.autoscaler.hard_max_workers ||
    Math.ceil(config.scaling.max_workers * config.scaling.burst_factor)
  );
}

export function autoscalePolicyOf(config: Config): AutoscaleConfig {
  const s = config.scaling;
  const a = config.autoscaler;
  const target = (s.scale_up_threshold + s.scale_down_threshold) / 2;
  const rate = (workers: number, percent: number, periodSec: number): RatePolicy[] => [
    ...(workers > 0 ? [{ kind: "workers" as const, value: workers, periodSec }] : []),
    ...(percent > 0 ? [{ kind: "percent" as const, value: percent, periodSec }] : []),
  ];
  const upPolicies = rate(a.scale_up_max_workers, a.scale_up_max_percent, a.scale_up_period_sec);
  const downPolicies = rate(
    a.scale_down_max_workers,
    a.scale_down_max_percent,
    a.scale_down_period_sec,
  );
  return {
    minWorkers: s.min_workers,
    maxWorkers: s.max_workers,
    targets: {
      slotUtilization: target,
      ...(a.target_cpu_utilization > 0 ? { cpuUtilization: a.target_cpu_utilization } : {}),
      ...(a.target_memory_utilization > 0 && a.worker_memory_limit_mb > 0
        ? { memoryUtilization: a.target_memory_utilization }
        : {}),
      ...(a.target_request_rate_per_worker > 0
        ? { requestRatePerWorkerPerSec: a.target_request_rate_per_worker }
        : {}),
      ...(a.target_pending_per_worker > 0
        ? { pendingTasksPerWorker: a.target_pending_per_worker }
        : {}),
    },
    // No policy in a direction means no rate limit there (both set to 0), not "never".
    up: {
      stabilizationSec: a.scale_up_stabilization_sec,
      tolerance: s.scale_up_threshold / target - 1,
      policies: upPolicies,
      select: "max",
    },
    down: {
      stabilizationSec: a.scale_down_stabilization_sec,
      tolerance: 1 - s.scale_down_threshold / target,
      policies: downPolicies,
      select: "max",
    },
    coolDownSec: s.cool_down_sec,
    burstFactor: s.burst_factor,
    maxBurstDurationSec: s.max_burst_duration_sec,
    hardMaxWorkers: hardMaxWorkersOf(config),
    allowScaleToZero: a.scale_to_zero,
  };
}
