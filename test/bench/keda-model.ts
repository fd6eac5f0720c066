// KEDA's queue-length scaling as an anchor for the scaling simulator: KEDA's
// own loop owns 0 ↔ 1 (activation, and scale-to-zero after the cool-down),
// and above one replica it hands the queue length to an HPA it creates, as
// an External metric with an averageValue target, so the HPA's rules
// (hpa-model.ts: tolerance, windows, rate policies) decide 1 ↔ N.
//
// Sources:
// - keda.sh/docs/latest/reference/scaledobject-spec/: pollingInterval
//   (default 30 s: how often each trigger is checked), cooldownPeriod
//   (default 300 s: the wait after the last trigger reported active before
//   scaling to 0; only applies to scaling to 0), minReplicaCount (default 0),
//   maxReplicaCount (default 100).
// - keda.sh/docs/latest/concepts/scaling-deployments/: the activation phase
//   (KEDA decides 0 ↔ 1 from each scaler's IsActive) and the scaling phase
//   (the HPA decides 1 ↔ N from the metric KEDA serves).
// - keda.sh/docs/latest/scalers/aws-sqs/ (the queue scalers read alike):
//   queueLength is the target per replica ("30 messages with a target of 10
//   scale to 3 pods", i.e. ceil(queue / target)); the queue counts messages
//   waiting plus in flight (ApproximateNumberOfMessages +
//   ApproximateNumberOfMessagesNotVisible, scaleOnInFlight true);
//   activationQueueLength defaults to 0 (active when the queue is above it).
import {
  EMPTY_HPA_STATE,
  reconcileHpa,
  type HpaSpec,
  type HpaState,
  type HpaStep,
} from "./hpa-model.js";

export interface KedaSpec {
  readonly pollingIntervalSec: number;
  readonly cooldownPeriodSec: number;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  /** The trigger's queueLength: messages one replica should have. */
  readonly queueLengthTarget: number;
  readonly activationQueueLength: number;
  /** The HPA KEDA creates: its behaviour, tolerance and sync are the HPA's defaults unless spec.advanced says otherwise. */
  readonly hpa: Pick<HpaSpec, "tolerance" | "scaleUp" | "scaleDown">;
}

export interface KedaState {
  /** When a trigger last reported active; undefined before it ever did. */
  readonly lastActiveAtSec?: number;
  readonly hpa: HpaState;
}

export const EMPTY_KEDA_STATE: KedaState = { hpa: EMPTY_HPA_STATE };

export type KedaReason = "Activated" | "ScaledToZero" | "CoolingDown" | "Idle" | "Unchanged";

/** KEDA's own poll, every pollingInterval: activation from zero and the cool-down to zero; otherwise it leaves the count to the HPA. */
export function pollKeda(input: {
  readonly spec: KedaSpec;
  readonly state: KedaState;
  readonly replicas: number;
  readonly queueLength: number;
  readonly nowSec: number;
}): { replicas: number; reason: KedaReason; state: KedaState } {
  const { spec, state, replicas, nowSec } = input;
  const isActive = input.queueLength > spec.activationQueueLength;
  if (isActive) {
    const next = { ...state, lastActiveAtSec: nowSec };
    // From zero, to minReplicaCount or one, whichever is more; the HPA takes over from there.
    if (replicas === 0)
      return { replicas: Math.max(spec.minReplicaCount, 1), reason: "Activated", state: next };
    return { replicas, reason: "Unchanged", state: next };
  }
  if (replicas === 0 || spec.minReplicaCount > 0)
    return { replicas, reason: replicas === 0 ? "Idle" : "Unchanged", state };
  const idleSinceSec = state.lastActiveAtSec ?? -Infinity;
  if (nowSec - idleSinceSec < spec.cooldownPeriodSec)
    return { replicas, reason: "CoolingDown", state };
  return { replicas: 0, reason: "ScaledToZero", state };
}

/** The HPA's sync over KEDA's metric: nothing while at zero (the HPA is inactive there), else the HPA with minReplicas ≥ 1. */
export function syncKedaHpa(input: {
  readonly spec: KedaSpec;
  readonly state: KedaState;
  readonly replicas: number;
  readonly queueLength: number;
  readonly nowSec: number;
}): { replicas: number; step?: HpaStep; state: KedaState } {
  const { spec, state, replicas } = input;
  if (replicas === 0) return { replicas, state };
  const step = reconcileHpa({
    spec: {
      ...spec.hpa,
      minReplicas: Math.max(1, spec.minReplicaCount),
      maxReplicas: spec.maxReplicaCount,
    },
    state: state.hpa,
    specReplicas: replicas,
    metric: {
      kind: "external-average",
      total: input.queueLength,
      targetPerPod: spec.queueLengthTarget,
    },
    nowSec: input.nowSec,
  });
  return { replicas: step.replicas, step, state: { ...state, hpa: step.state } };
}
