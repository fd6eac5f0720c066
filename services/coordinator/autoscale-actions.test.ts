// Table tests of what the autoscaling loop does to reach the policy's count:
// each case is the ready and starting workers, what the provider runs and
// can do, and the plan (with its reason) that comes back.
import { describe, expect, it } from "vitest";
import { planScale, removalAction, type ScaleInput, type ScalePlan } from "./autoscale-actions.js";
import { EXTERNAL_CAPABILITIES } from "./providers/external-provider.js";
import { KUBERNETES_CAPABILITIES } from "./providers/kubernetes-provider.js";
import { LOCAL_CAPABILITIES } from "./providers/local-provider.js";
import type { ProviderCapabilities } from "./providers/worker-provider.js";

const NOW = 1_700_000_000_000;

interface ScaleCase {
  readonly name: string;
  readonly desired: number;
  /** Ready workers: id → [in flight, registered at]. */
  readonly ready?: Record<string, [number, number]>;
  readonly starting?: string[];
  /** Defaults to every ready and starting worker. */
  readonly managed?: string[];
  readonly removing?: string[];
  readonly capabilities?: ProviderCapabilities;
  readonly plan: Partial<ScalePlan>;
}

function scaleInputOf(c: ScaleCase): ScaleInput {
  const ready = Object.entries(c.ready ?? {});
  const starting = c.starting ?? [];
  return {
    desiredWorkers: c.desired,
    inFlightByReadyWorker: new Map(ready.map(([id, [inFlight]]) => [id, inFlight])),
    startingIds: starting,
    managed: new Set(c.managed ?? [...ready.map(([id]) => id), ...starting]),
    removing: new Set(c.removing ?? []),
    registeredAtMs: new Map(ready.map(([id, [, atMs]]) => [id, atMs])),
    capabilities: c.capabilities ?? LOCAL_CAPABILITIES,
  };
}

const NOTHING: Partial<ScalePlan> = {
  startCount: 0,
  stopStarting: [],
  drain: [],
  stopWithDrain: [],
};

describe("planScale", () => {
  const three: ScaleCase["ready"] = {
    "w-1": [3, NOW - 3000],
    "w-2": [0, NOW - 2000],
    "w-3": [1, NOW - 1000],
  };
  it.each<ScaleCase>([
    {
      name: "does nothing at the target",
      desired: 3,
      ready: three,
      plan: {
        ...NOTHING,
        reason: "AtTarget",
        message: "3 ready + 0 starting, desired 3: nothing to do",
      },
    },
    {
      name: "counts starting workers toward the target",
      desired: 3,
      ready: { "w-1": [0, NOW] },
      starting: ["w-2", "w-3"],
      plan: { ...NOTHING, reason: "AtTarget" },
    },
    {
      name: "starts what is missing",
      desired: 5,
      ready: three,
      starting: ["w-4"],
      plan: {
        ...NOTHING,
        startCount: 1,
        reason: "StartWorkers",
        message: "3 ready + 1 starting, desired 5: start 1",
      },
    },
    {
      name: "starts nothing on a provider that cannot start",
      desired: 5,
      ready: three,
      capabilities: EXTERNAL_CAPABILITIES,
      plan: { ...NOTHING, reason: "ProviderCannotStart" },
    },
    {
      name: "removes starting workers first, without a drain",
      desired: 3,
      ready: three,
      starting: ["w-4", "w-5"],
      plan: {
        ...NOTHING,
        stopStarting: ["w-4", "w-5"],
        reason: "RemoveWorkers",
        message: "3 ready + 2 starting, desired 3: stop starting w-4, w-5",
      },
    },
    {
      name: "then drains the least busy ready workers",
      desired: 1,
      ready: three,
      starting: ["w-4"],
      plan: {
        ...NOTHING,
        stopStarting: ["w-4"],
        drain: ["w-2", "w-3"],
        reason: "RemoveWorkers",
        message: "3 ready + 1 starting, desired 1: stop starting w-4; drain w-2, w-3",
      },
    },
    {
      name: "among equally busy workers drains the newest registered first, then by id",
      desired: 1,
      ready: {
        "w-1": [0, NOW - 3000],
        "w-2": [0, NOW - 1000],
        "w-3": [0, NOW - 1000],
        "w-4": [0, NOW - 2000],
      },
      plan: { ...NOTHING, drain: ["w-2", "w-3", "w-4"] },
    },
    {
      name: "never drains a worker the provider does not run",
      desired: 1,
      ready: { ...three, "ext-1": [0, NOW] },
      managed: ["w-1", "w-2", "w-3"],
      plan: { ...NOTHING, drain: ["w-2", "w-3", "w-1"] },
    },
    {
      name: "says so when no ready worker is one it runs",
      desired: 0,
      ready: { "ext-1": [0, NOW] },
      managed: [],
      plan: { ...NOTHING, reason: "NoneRemovable" },
    },
    {
      name: "never drains a worker twice",
      desired: 1,
      ready: three,
      removing: ["w-2"],
      plan: { ...NOTHING, drain: ["w-3", "w-1"] },
    },
    {
      name: "hands the drained ones to stop() at once on a provider that stops with the drain",
      desired: 1,
      ready: three,
      capabilities: KUBERNETES_CAPABILITIES,
      plan: { ...NOTHING, drain: ["w-2", "w-3"], stopWithDrain: ["w-2", "w-3"] },
    },
    {
      name: "removes nothing on a provider that cannot stop",
      desired: 1,
      ready: three,
      starting: ["w-4"],
      capabilities: EXTERNAL_CAPABILITIES,
      plan: { ...NOTHING, reason: "ProviderCannotStop" },
    },
  ])("$name", (c) => {
    expect(planScale(scaleInputOf(c))).toMatchObject(c.plan);
  });
});

describe("removalAction", () => {
  it.each([
    {
      name: "starting ones and drained ones",
      plan: { stopStarting: ["w-5"], drain: ["w-2", "w-3"] },
      action: "stop starting w-5; drain w-2, w-3",
    },
    { name: "drained ones only", plan: { stopStarting: [], drain: ["w-2"] }, action: "drain w-2" },
    { name: "nothing", plan: { stopStarting: [], drain: [] }, action: "" },
  ])("says $name as the history's action column does", ({ plan, action }) => {
    expect(removalAction(plan)).toBe(action);
  });
});
