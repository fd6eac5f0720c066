import { describe, expect, it } from "vitest";
import {
  calculateReplicas,
  DEFAULT_HPA_BEHAVIOR,
  EMPTY_HPA_STATE,
  reconcileHpa,
  type HpaMetric,
  type HpaSpec,
  type HpaState,
} from "./hpa-model.js";
import { EMPTY_KEDA_STATE, pollKeda, syncKedaHpa, type KedaSpec } from "./keda-model.js";

const spec: HpaSpec = { minReplicas: 1, maxReplicas: 100, ...DEFAULT_HPA_BEHAVIOR };

const cpu = (
  utilization: number,
  targetUtilization: number,
  countedPods: number,
  ignoredPods = 0,
): HpaMetric => ({
  kind: "utilization",
  utilization,
  targetUtilization,
  countedPods,
  ignoredPods,
});

describe("HPA replica calculator (kubernetes.io Algorithm details, replica_calculator.go)", () => {
  it.each([
    // The docs: 200m against 100m doubles, 50m against 100m halves.
    { name: "doubles at twice the target", current: 4, metric: cpu(2, 1, 4), want: 8 },
    { name: "halves at half the target", current: 4, metric: cpu(0.5, 1, 4), want: 2 },
    // KEP-4951's example: 50 replicas at 90 % against 75 % → 60.
    {
      name: "50 replicas at 90 % of a 75 % target become 60",
      current: 50,
      metric: cpu(0.9, 0.75, 50),
      want: 60,
    },
    {
      name: "holds within the 0.1 tolerance (1.08×)",
      current: 10,
      metric: cpu(0.54, 0.5, 10),
      want: 10,
    },
    { name: "moves just past it (1.12×)", current: 10, metric: cpu(0.56, 0.5, 10), want: 12 },
    // Pending pods count as 0 % on a scale-up: 2 pods at 1.2× with 2 pending rebalance to 0.6×, a change of direction, so no change.
    {
      name: "holds when pending pods at 0 % turn a scale-up around",
      current: 4,
      metric: cpu(0.6, 0.5, 2, 2),
      want: 4,
    },
    {
      name: "scales up past pending pods when the rebalanced ratio still says up",
      current: 4,
      metric: cpu(1, 0.5, 3, 1),
      want: 6,
    },
    // On a scale-down ignored pods are left out: ceil(ratio × counted).
    {
      name: "scales down on the counted pods alone",
      current: 6,
      metric: cpu(0.2, 0.5, 4, 2),
      want: 2,
    },
    // GetExternalPerPodMetricReplicas, KEDA's SQS page: 30 messages at 10 per pod → 3.
    {
      name: "external averageValue: 30 messages at 10 per pod is 3",
      current: 1,
      metric: { kind: "external-average", total: 30, targetPerPod: 10 } as const,
      want: 3,
    },
    {
      name: "external averageValue within tolerance holds",
      current: 3,
      metric: { kind: "external-average", total: 32, targetPerPod: 10 } as const,
      want: 3,
    },
  ])("$name", ({ current, metric, want }) => {
    expect(calculateReplicas(current, metric, 0.1).replicas).toBe(want);
  });
});

describe("HPA behaviours (horizontal.go, kubernetes.io Default behavior)", () => {
  it("scales up by the larger of 100 % and 4 pods per 15 s", () => {
    // 1 replica at 10× the target asks for 10; the default lets 1 → max(2, 5) = 5, then 5 → max(10, 9) = 10.
    const first = reconcileHpa({
      spec,
      state: EMPTY_HPA_STATE,
      specReplicas: 1,
      metric: cpu(1, 0.1, 1),
      nowSec: 0,
    });
    expect(first.rawReplicas).toBe(10);
    expect(first.replicas).toBe(5);
    expect(first.reason).toBe("ScaleUpLimit");
    // Inside the same 15 s period the 4 added already count: still at most 5.
    const soon = reconcileHpa({
      spec,
      state: first.state,
      specReplicas: 5,
      metric: cpu(1, 0.1, 1, 4),
      nowSec: 10,
    });
    expect(soon.replicas).toBe(5);
    const next = reconcileHpa({
      spec,
      state: first.state,
      specReplicas: 5,
      metric: cpu(1, 0.1, 1, 4),
      nowSec: 15,
    });
    expect(next.replicas).toBe(10);
  });

  it("applies the highest recommendation of the last 300 s on the way down", () => {
    let state: HpaState = EMPTY_HPA_STATE;
    const step = (nowSec: number, utilization: number) => {
      const s = reconcileHpa({
        spec,
        state,
        specReplicas: 10,
        metric: cpu(utilization, 0.5, 10),
        nowSec,
      });
      state = s.state;
      return s;
    };
    expect(step(0, 0.4).replicas).toBe(8); // the first recommendation: nothing older holds it
    state = { ...state, events: [] };
    expect(step(100, 0.25).replicas).toBe(8); // raw 5, the window still holds 8
    expect(step(100 + 15, 0.25).reason).toBe("ScaleDownStabilized");
    // Strictly newer than the cutoff: at 300 s the 8 from 0 s has left the window.
    expect(step(300, 0.25).replicas).toBe(5);
  });

  it("limits a scale-down by 100 % per 15 s and by minReplicas", () => {
    const none = reconcileHpa({
      spec: { ...spec, scaleDown: { ...spec.scaleDown, stabilizationSec: 0 } },
      state: EMPTY_HPA_STATE,
      specReplicas: 10,
      metric: cpu(0, 0.5, 10),
      nowSec: 0,
    });
    expect(none.replicas).toBe(1);
    expect(none.reason).toBe("TooFewReplicas");
  });

  it("removes 8 of 80 then 8 of 72 with a 10 % per 60 s policy (the docs' example, truncated down)", () => {
    const tenPercent: HpaSpec = {
      ...spec,
      scaleDown: {
        stabilizationSec: 0,
        policies: [{ kind: "percent", value: 10, periodSec: 60 }],
        select: "max",
      },
    };
    const first = reconcileHpa({
      spec: tenPercent,
      state: EMPTY_HPA_STATE,
      specReplicas: 80,
      metric: cpu(0.01, 0.5, 80),
      nowSec: 0,
    });
    expect(first.replicas).toBe(72);
    const second = reconcileHpa({
      spec: tenPercent,
      state: first.state,
      specReplicas: 72,
      metric: cpu(0.01, 0.5, 72),
      nowSec: 60,
    });
    expect(second.replicas).toBe(64);
  });

  it("never passes maxReplicas", () => {
    const step = reconcileHpa({
      spec: { ...spec, maxReplicas: 6 },
      state: EMPTY_HPA_STATE,
      specReplicas: 4,
      metric: cpu(1, 0.2, 4),
      nowSec: 0,
    });
    expect(step.replicas).toBe(6);
    expect(step.reason).toBe("TooManyReplicas");
  });
});

describe("KEDA queue-length scaling (keda.sh ScaledObject spec, queue scalers)", () => {
  const keda: KedaSpec = {
    pollingIntervalSec: 30,
    cooldownPeriodSec: 300,
    minReplicaCount: 0,
    maxReplicaCount: 100,
    queueLengthTarget: 10,
    activationQueueLength: 0,
    hpa: DEFAULT_HPA_BEHAVIOR,
  };

  it("activates from zero on the first message, and the HPA does nothing at zero", () => {
    const idle = syncKedaHpa({
      spec: keda,
      state: EMPTY_KEDA_STATE,
      replicas: 0,
      queueLength: 30,
      nowSec: 0,
    });
    expect(idle.replicas).toBe(0);
    const woken = pollKeda({
      spec: keda,
      state: EMPTY_KEDA_STATE,
      replicas: 0,
      queueLength: 1,
      nowSec: 0,
    });
    expect(woken.replicas).toBe(1);
    expect(woken.reason).toBe("Activated");
  });

  it("hands the queue to the HPA above one replica: 30 messages at 10 each are 3 pods", () => {
    const step = syncKedaHpa({
      spec: keda,
      state: EMPTY_KEDA_STATE,
      replicas: 1,
      queueLength: 30,
      nowSec: 0,
    });
    expect(step.replicas).toBe(3);
  });

  it("scales to zero only cooldownPeriod after the trigger was last active", () => {
    const active = pollKeda({
      spec: keda,
      state: EMPTY_KEDA_STATE,
      replicas: 2,
      queueLength: 5,
      nowSec: 0,
    });
    const early = pollKeda({
      spec: keda,
      state: active.state,
      replicas: 2,
      queueLength: 0,
      nowSec: 270,
    });
    expect(early).toMatchObject({ replicas: 2, reason: "CoolingDown" });
    const late = pollKeda({
      spec: keda,
      state: active.state,
      replicas: 2,
      queueLength: 0,
      nowSec: 300,
    });
    expect(late).toMatchObject({ replicas: 0, reason: "ScaledToZero" });
    // With minReplicaCount 1 it never goes to zero.
    const kept = pollKeda({
      spec: { ...keda, minReplicaCount: 1 },
      state: active.state,
      replicas: 2,
      queueLength: 0,
      nowSec: 900,
    });
    expect(kept.replicas).toBe(2);
  });
});
