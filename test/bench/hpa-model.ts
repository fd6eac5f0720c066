// The Kubernetes HorizontalPodAutoscaler as an anchor for the scaling
// simulator: one pure reconcile step, (spec, state, pods, metric, now) →
// replicas and the state the next step needs. Written from the HPA's own
// pages and code, rule by rule, and kept apart from libs/scaling (which
// borrows from the HPA) so the bench compares scalemesh with the HPA itself,
// not with our reading of it.
//
// Sources:
// - kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
//   ("Algorithm details": desiredReplicas = ceil(currentReplicas ×
//   currentMetricValue / desiredMetricValue), the 0.1 tolerance, pods not yet
//   ready set aside; "Default behavior": scale-up 100 % or 4 pods per 15 s,
//   the larger, no up window; scale-down 100 % per 15 s after a 300 s window;
//   the 15 s --horizontal-pod-autoscaler-sync-period).
// - kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go:
//   GetResourceReplicas and groupPods (pending pods and pods whose sample
//   predates their readiness are ignored; on a scale-up they count as 0 %
//   and a change of direction means no change), GetExternalPerPodMetricReplicas
//   (AverageValue of an external metric: ceil(total / target)).
// - pkg/controller/podautoscaler/horizontal.go: stabilizeRecommendationWithBehaviors
//   (the lowest raw recommendation of the up window, the highest of the down
//   window, current clamped between them), convertDesiredReplicasWithBehaviorRate,
//   calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors
//   (each policy relative to the replicas at the start of its period, worked
//   back from the scale events inside it; up rounded up, down truncated),
//   storeScaleEvent.

export interface HpaPolicy {
  readonly kind: "pods" | "percent";
  readonly value: number;
  readonly periodSec: number;
}

export interface HpaScalingRules {
  readonly stabilizationSec: number;
  readonly policies: readonly HpaPolicy[];
  readonly select: "max" | "min" | "disabled";
}

export interface HpaSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** --horizontal-pod-autoscaler-tolerance, 0.1 by default, both directions. */
  readonly tolerance: number;
  readonly scaleUp: HpaScalingRules;
  readonly scaleDown: HpaScalingRules;
}

/** The HPA's defaults when spec.behavior is left out (kubernetes.io "Default behavior"). */
export const DEFAULT_HPA_BEHAVIOR: Pick<HpaSpec, "tolerance" | "scaleUp" | "scaleDown"> = {
  tolerance: 0.1,
  scaleUp: {
    stabilizationSec: 0,
    policies: [
      { kind: "percent", value: 100, periodSec: 15 },
      { kind: "pods", value: 4, periodSec: 15 },
    ],
    select: "max",
  },
  scaleDown: {
    stabilizationSec: 300,
    policies: [{ kind: "percent", value: 100, periodSec: 15 }],
    select: "max",
  },
};

/** --horizontal-pod-autoscaler-sync-period. */
export const HPA_SYNC_SEC = 15;

export interface HpaState {
  /** Raw (unstabilized) recommendations, newest last. */
  readonly recommendations: readonly { readonly atSec: number; readonly replicas: number }[];
  /** Scale events: +n for a scale-up, −n for a scale-down. */
  readonly events: readonly { readonly atSec: number; readonly change: number }[];
}

export const EMPTY_HPA_STATE: HpaState = { recommendations: [], events: [] };

/** What the metric says this sync; one of the two kinds the bench uses. */
export type HpaMetric =
  | {
      /** A Resource metric with target averageUtilization (CPU), as replica_calculator.go's GetResourceReplicas. */
      readonly kind: "utilization";
      /** Mean utilization of the pods whose sample counts, as a fraction of the request. */
      readonly utilization: number;
      readonly targetUtilization: number;
      /** Ready pods whose sample was taken after they became ready (groupPods' readyPodCount). */
      readonly countedPods: number;
      /** Pending pods, and ready ones whose sample predates their readiness (groupPods' ignoredPods). */
      readonly ignoredPods: number;
    }
  | {
      /** An External metric with target averageValue (KEDA's scalers), as GetExternalPerPodMetricReplicas. */
      readonly kind: "external-average";
      readonly total: number;
      readonly targetPerPod: number;
    };

export type HpaReason =
  | "WithinTolerance"
  | "DirectionChangeAvoided"
  | "ByRatio"
  | "ScaleUpStabilized"
  | "ScaleDownStabilized"
  | "ScaleUpLimit"
  | "ScaleDownLimit"
  | "TooManyReplicas"
  | "TooFewReplicas"
  | "DesiredWithinRange";

export interface HpaStep {
  readonly replicas: number;
  /** What the replica calculator alone asked for. */
  readonly rawReplicas: number;
  readonly reason: HpaReason;
  readonly state: HpaState;
}

/** The replica calculator: how many replicas the metric asks for, before windows and rates. */
export function calculateReplicas(
  specReplicas: number,
  metric: HpaMetric,
  tolerance: number,
): { replicas: number; reason: HpaReason } {
  if (metric.kind === "external-average") {
    // GetExternalPerPodMetricReplicas: the tolerance on total / (target × replicas), then ceil(total / target).
    const ratio = specReplicas > 0 ? metric.total / (metric.targetPerPod * specReplicas) : Infinity;
    if (Math.abs(1 - ratio) <= tolerance)
      return { replicas: specReplicas, reason: "WithinTolerance" };
    return { replicas: Math.ceil(metric.total / metric.targetPerPod - 1e-9), reason: "ByRatio" };
  }
  const { countedPods, ignoredPods } = metric;
  if (countedPods === 0) return { replicas: specReplicas, reason: "WithinTolerance" }; // "did not receive metrics for any ready pods": no change
  const ratio = metric.utilization / metric.targetUtilization;
  // Ignored pods only matter on a scale-up (rebalanceIgnored): there they count as using 0 %.
  if (ignoredPods === 0 || ratio <= 1) {
    if (Math.abs(1 - ratio) <= tolerance)
      return { replicas: specReplicas, reason: "WithinTolerance" };
    return { replicas: Math.ceil(ratio * countedPods - 1e-9), reason: "ByRatio" };
  }
  const rebalanced = (ratio * countedPods) / (countedPods + ignoredPods);
  if (Math.abs(1 - rebalanced) <= tolerance)
    return { replicas: specReplicas, reason: "WithinTolerance" };
  if (rebalanced < 1) return { replicas: specReplicas, reason: "DirectionChangeAvoided" };
  return {
    replicas: Math.ceil(rebalanced * (countedPods + ignoredPods) - 1e-9),
    reason: "ByRatio",
  };
}

/** One reconcile: the replica calculator, then the stabilization windows, then the rate policies and min/max. */
export function reconcileHpa(input: {
  readonly spec: HpaSpec;
  readonly state: HpaState;
  /** scale.spec.replicas: ready and starting pods. */
  readonly specReplicas: number;
  readonly metric: HpaMetric;
  readonly nowSec: number;
}): HpaStep {
  const { spec, state, specReplicas: current, nowSec } = input;
  const raw = calculateReplicas(current, input.metric, spec.tolerance);
  const stabilized = stabilize(spec, state, current, raw.replicas, nowSec);
  const limited = limitRate(spec, state, current, stabilized.replicas, nowSec);
  const reason =
    limited.reason !== "DesiredWithinRange"
      ? limited.reason
      : stabilized.replicas !== raw.replicas
        ? stabilized.reason
        : raw.reason;
  return {
    replicas: limited.replicas,
    rawReplicas: raw.replicas,
    reason,
    state: nextState(spec, state, current, raw.replicas, limited.replicas, nowSec),
  };
}

function stabilize(
  spec: HpaSpec,
  state: HpaState,
  current: number,
  desired: number,
  nowSec: number,
): { replicas: number; reason: HpaReason } {
  const upCutoff = nowSec - spec.scaleUp.stabilizationSec;
  const downCutoff = nowSec - spec.scaleDown.stabilizationSec;
  let up = desired;
  let down = desired;
  for (const rec of state.recommendations) {
    // timestamp.After(cutoff): strictly newer.
    if (rec.atSec > upCutoff) up = Math.min(up, rec.replicas);
    if (rec.atSec > downCutoff) down = Math.max(down, rec.replicas);
  }
  const replicas = Math.min(Math.max(current, up), down);
  return { replicas, reason: desired >= current ? "ScaleUpStabilized" : "ScaleDownStabilized" };
}

function limitRate(
  spec: HpaSpec,
  state: HpaState,
  current: number,
  desired: number,
  nowSec: number,
): { replicas: number; reason: HpaReason } {
  if (desired > current) {
    const limit = Math.max(current, scaleLimit("up", spec.scaleUp, state, current, nowSec));
    const maximum = Math.min(spec.maxReplicas, limit);
    const reason = spec.maxReplicas > limit ? "ScaleUpLimit" : "TooManyReplicas";
    return desired > maximum
      ? { replicas: maximum, reason }
      : { replicas: desired, reason: "DesiredWithinRange" };
  }
  if (desired < current) {
    const limit = Math.min(current, scaleLimit("down", spec.scaleDown, state, current, nowSec));
    const minimum = Math.max(spec.minReplicas, limit);
    const reason = spec.minReplicas < limit ? "ScaleDownLimit" : "TooFewReplicas";
    return desired < minimum
      ? { replicas: minimum, reason }
      : { replicas: desired, reason: "DesiredWithinRange" };
  }
  return { replicas: desired, reason: "DesiredWithinRange" };
}

/** calculateScaleUpLimitWithScalingRules and calculateScaleDownLimitWithBehaviors in one, by direction. */
function scaleLimit(
  direction: "up" | "down",
  rules: HpaScalingRules,
  state: HpaState,
  current: number,
  nowSec: number,
): number {
  if (rules.select === "disabled") return current;
  const proposals = rules.policies.map((policy) => {
    const cutoff = nowSec - policy.periodSec;
    let added = 0;
    let deleted = 0;
    for (const event of state.events) {
      if (event.atSec <= cutoff) continue; // getReplicasChangePerPeriod: timestamp.After(cutoff)
      if (event.change > 0) added += event.change;
      else deleted -= event.change;
    }
    const start = current - added + deleted;
    if (direction === "up")
      return policy.kind === "pods"
        ? start + policy.value
        : Math.ceil(start * (1 + policy.value / 100) - 1e-9);
    return policy.kind === "pods"
      ? start - policy.value
      : Math.trunc(start * (1 - policy.value / 100) + 1e-9);
  });
  if (proposals.length === 0) return direction === "up" ? Infinity : -Infinity;
  // "max" is the policy allowing the most change: the highest limit up, the lowest down.
  const most = direction === "up" ? Math.max(...proposals) : Math.min(...proposals);
  const least = direction === "up" ? Math.min(...proposals) : Math.max(...proposals);
  return rules.select === "max" ? most : least;
}

function nextState(
  spec: HpaSpec,
  state: HpaState,
  current: number,
  raw: number,
  replicas: number,
  nowSec: number,
): HpaState {
  const keepRecSec = Math.max(spec.scaleUp.stabilizationSec, spec.scaleDown.stabilizationSec);
  const keepEventSec = Math.max(
    0,
    ...[...spec.scaleUp.policies, ...spec.scaleDown.policies].map((p) => p.periodSec),
  );
  const recommendations = [
    ...state.recommendations.filter((r) => r.atSec > nowSec - keepRecSec),
    { atSec: nowSec, replicas: raw },
  ];
  const events = state.events.filter((e) => e.atSec > nowSec - keepEventSec);
  return {
    recommendations,
    events:
      replicas === current ? events : [...events, { atSec: nowSec, change: replicas - current }],
  };
}
