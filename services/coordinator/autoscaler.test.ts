// The autoscaling loop against an in-memory fleet and provider, with an
// injected clock: what it asks the provider to do, what status() says and
// what it records in the scaling history. The policy itself (libs/scaling)
// has its own table tests; here it only needs to give predictable answers.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkerState, WorkerStatusSchema, type WorkerStatus } from "../../libs/contracts/index.js";
import {
  createMemoryScalingHistory,
  type ScalingHistory,
  type StoredScalingEvent,
} from "../../libs/ledger/index.js";
import type { AutoscaleConfig, DirectionBehavior } from "../../libs/scaling/index.js";
import { registry } from "../../libs/telemetry/index.js";
import {
  createFakeWorkerProvider,
  type FakeWorkerProvider,
} from "../../test/support/fake-worker-provider.js";
import {
  createAutoscaler,
  type Autoscaler,
  type FleetSource,
  type RecoverySettings,
} from "./autoscaler.js";
import type { FleetHooks } from "./coordinator.js";
import { EXTERNAL_CAPABILITIES } from "./providers/external-provider.js";
import { KUBERNETES_CAPABILITIES } from "./providers/kubernetes-provider.js";
import { LOCAL_CAPABILITIES } from "./providers/local-provider.js";
import type { ProviderCapabilities, ProviderKind } from "./providers/worker-provider.js";

const START_MS = 1_700_000_000_000;
const START_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 60_000;
const SYNC_INTERVAL_MS = 15_000;

// ---- fixtures -------------------------------------------------------------

/** The coordinator as the loop sees it: registered workers, the queue, drains asked for. */
interface FakeFleet extends FleetSource {
  /** Every drainWorker() call, in order. */
  readonly drained: string[];
  /** What the autoscaler attached, while it is attached. */
  readonly hooks: FleetHooks | undefined;
  pendingCount: number;
  acceptedTotal: number;
  /** Registers now (the fleet's clock), as a worker agent joining. */
  register(workerId: string, load?: { slots?: number; inFlight?: number }): void;
  /** Its session ended: gone from listWorkers(false). */
  leave(workerId: string): void;
}

function createFakeFleet(now: () => number): FakeFleet {
  const workers = new Map<string, WorkerStatus>();
  const drained: string[] = [];
  let hooks: FleetHooks | undefined;
  return {
    drained,
    get hooks() {
      return hooks;
    },
    pendingCount: 0,
    acceptedTotal: 0,
    attachFleet(attached) {
      hooks = attached;
      return () => {
        if (hooks === attached) hooks = undefined;
      };
    },
    listWorkers(includeDead) {
      return [...workers.values()]
        .filter((w) => includeDead || w.state !== WorkerState.DEAD)
        .sort((a, b) => ((a.spec?.workerId ?? "") < (b.spec?.workerId ?? "") ? -1 : 1));
    },
    drainWorker(workerId) {
      const worker = workers.get(workerId);
      // As the coordinator: an unknown worker is an error, a known one stops taking tasks.
      if (worker === undefined) throw new Error(`worker ${workerId} is not registered`);
      drained.push(workerId);
      worker.state = WorkerState.DRAINING;
      return worker;
    },
    register(workerId, { slots = 4, inFlight = 0 } = {}) {
      workers.set(
        workerId,
        create(WorkerStatusSchema, {
          spec: { workerId, slots },
          state: WorkerState.ALIVE,
          inFlight,
          freeSlots: Math.max(0, slots - inFlight),
          registeredAt: timestampFromMs(now()),
        }),
      );
    },
    leave(workerId) {
      workers.delete(workerId);
    },
  };
}

function behavior(overrides: Partial<DirectionBehavior> = {}): DirectionBehavior {
  return { stabilizationSec: 0, tolerance: 0.1, policies: [], select: "max", ...overrides };
}

/** Reacts at once both ways (no windows, rates or cool-down), aiming at half the slots busy, 2 to 6 workers. */
function policy(overrides: Partial<AutoscaleConfig> = {}): AutoscaleConfig {
  return {
    minWorkers: 2,
    maxWorkers: 6,
    targets: { slotUtilization: 0.5 },
    up: behavior(),
    down: behavior(),
    coolDownSec: 0,
    burstFactor: 1,
    maxBurstDurationSec: 0,
    hardMaxWorkers: 6,
    allowScaleToZero: false,
    ...overrides,
  };
}

/** A policy that never moves on its own (both directions disabled, min 1): only recovery acts. */
const FROZEN: Partial<AutoscaleConfig> = {
  minWorkers: 1,
  up: behavior({ select: "disabled" }),
  down: behavior({ select: "disabled" }),
};

interface HarnessOptions {
  readonly policy?: Partial<AutoscaleConfig>;
  readonly recovery?: Partial<RecoverySettings>;
  readonly isEnabled?: boolean;
  readonly kind?: ProviderKind;
  /** What the fake provider declares (by default the local provider's). */
  readonly capabilities?: ProviderCapabilities;
  readonly workerTemplate?: FleetHooks["template"];
}

interface Harness {
  readonly autoscaler: Autoscaler;
  readonly fleet: FakeFleet;
  readonly provider: FakeWorkerProvider;
  readonly history: ScalingHistory;
  readonly clock: { nowMs: number };
}

function harness(options: HarnessOptions = {}): Harness {
  const clock = { nowMs: START_MS };
  const fleet = createFakeFleet(() => clock.nowMs);
  // A stopped worker's session ends with its process.
  const provider = createFakeWorkerProvider({
    kind: options.kind ?? "local",
    capabilities: options.capabilities ?? LOCAL_CAPABILITIES,
    onStopped: (id) => fleet.leave(id),
  });
  const history = createMemoryScalingHistory();
  const autoscaler = createAutoscaler({
    source: fleet,
    provider,
    policy: policy(options.policy),
    isEnabled: options.isEnabled ?? true,
    syncIntervalMs: SYNC_INTERVAL_MS,
    startTimeoutMs: START_TIMEOUT_MS,
    drainTimeoutMs: DRAIN_TIMEOUT_MS,
    recovery: { isEnabled: true, maxAttempts: 3, ...options.recovery },
    ...(options.workerTemplate ? { workerTemplate: options.workerTemplate } : {}),
    memoryLimitBytes: 0,
    history,
    logger: pino({ level: "silent" }),
    now: () => clock.nowMs,
  });
  return { autoscaler, fleet, provider, history, clock };
}

/** A worker the provider runs and that has registered. */
function join(h: Harness, workerId: string, inFlight = 0): void {
  h.provider.set(workerId, "running", "pid 1234");
  h.fleet.register(workerId, { inFlight });
}

/** Its process died: the session is gone and the provider reports it failed. */
function die(h: Harness, workerId: string, detail = "exit code 1"): void {
  h.fleet.leave(workerId);
  h.provider.set(workerId, "failed", detail);
}

async function syncAt(h: Harness, atMs: number): Promise<void> {
  h.clock.nowMs = atMs;
  await h.autoscaler.syncNow();
}

async function syncAfter(h: Harness, elapsedMs: number): Promise<void> {
  await syncAt(h, h.clock.nowMs + elapsedMs);
}

/** Oldest first. */
async function events(h: Harness): Promise<StoredScalingEvent[]> {
  return (await h.history.list({ limit: 10_000 })).reverse();
}

async function eventsWith(h: Harness, reason: string): Promise<StoredScalingEvent[]> {
  return (await events(h)).filter((e) => e.reason === reason);
}

async function lastEvent(h: Harness): Promise<StoredScalingEvent | undefined> {
  return (await h.history.list({ limit: 1 }))[0];
}

// ---- scale-up and starts --------------------------------------------------

describe("autoscaler: starting workers", () => {
  it("starts min_workers on an empty fleet, counts them as starting until they register, and times them to their registration", async () => {
    const h = harness({ policy: { minWorkers: 2 } });

    await h.autoscaler.syncNow();
    expect(h.provider.calls.start).toEqual([2]);
    expect(await lastEvent(h)).toMatchObject({
      reason: "AtMinimum",
      desiredWorkers: 2,
      action: "start 2 (w-1, w-2)",
      error: "",
    });
    // Counted when asked, not at the last sync: starting as soon as they are asked for.
    expect(h.autoscaler.status()).toMatchObject({
      currentWorkers: 0,
      startingWorkers: 2,
      desiredWorkers: 2,
      scaleUps: 1,
      failedOperations: 0,
    });

    // Asked for and not registered: starting, so the next sync asks for nothing more.
    await syncAfter(h, 500);
    expect(h.provider.calls.start).toEqual([2]);
    expect(h.autoscaler.status()).toMatchObject({
      currentWorkers: 0,
      startingWorkers: 2,
      desiredWorkers: 2,
      meanTimeToHealthySec: 0,
    });
    expect(await lastEvent(h)).toMatchObject({ readyWorkers: 0, startingWorkers: 2, action: "" });

    // Timed to when each registered, not to the sync that noticed.
    h.clock.nowMs = START_MS + 1000;
    join(h, "w-1");
    await syncAt(h, START_MS + 1500);
    expect(h.autoscaler.status()).toMatchObject({
      currentWorkers: 1,
      startingWorkers: 1,
      meanTimeToHealthySec: 1,
    });

    h.clock.nowMs = START_MS + 3000;
    join(h, "w-2");
    await syncAt(h, START_MS + 4000);
    expect(h.autoscaler.status()).toMatchObject({
      currentWorkers: 2,
      startingWorkers: 0,
      desiredWorkers: 2,
      scaleUps: 1,
      meanTimeToHealthySec: 2,
    });
    expect(h.provider.calls.start).toEqual([2]);
    expect(h.provider.stoppedIds()).toEqual([]);
  });

  it("fails a start that never registers within worker_start_timeout_sec, stops it, and asks for another", async () => {
    const h = harness({ policy: { minWorkers: 2 } });
    await h.autoscaler.syncNow();
    h.clock.nowMs = START_MS + 2000;
    join(h, "w-1");
    await syncAt(h, START_MS + 2000);

    await syncAt(h, START_MS + START_TIMEOUT_MS);
    expect(h.autoscaler.status().failedOperations).toBe(0);
    expect(h.provider.stoppedIds()).toEqual([]);

    // The same sync asks for a replacement: the timed-out worker no longer counts as starting.
    await syncAt(h, START_MS + START_TIMEOUT_MS + 1);
    expect(h.autoscaler.status()).toMatchObject({
      failedOperations: 1,
      meanTimeToHealthySec: 2,
      currentWorkers: 1,
      startingWorkers: 1,
    });
    const failed = (await events(h)).filter((e) => e.action === "start w-2");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: "ProviderFailed" });
    expect(failed[0]?.error).toContain("w-2 did not register within 10 s");
    expect(failed[0]?.error).toContain("autoscaler.worker_start_timeout_sec");
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);

    expect(h.provider.calls.start).toEqual([2, 1]);
    await syncAfter(h, 1);
    expect(h.provider.calls.start).toEqual([2, 1]);
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);
  });

  it("records a start the provider refuses as a failed operation with the provider's words", async () => {
    const h = harness({ policy: { minWorkers: 2 } });
    h.provider.failNextStart(new Error("image scalemesh:missing not found"));

    await h.autoscaler.syncNow();
    expect(h.autoscaler.status()).toMatchObject({ failedOperations: 1, scaleUps: 0 });
    expect(await lastEvent(h)).toMatchObject({
      reason: "AtMinimum",
      action: "",
      error: "start 2: image scalemesh:missing not found",
    });

    await syncAfter(h, 1000);
    expect(h.provider.calls.start).toEqual([2, 2]);
    expect(h.autoscaler.status()).toMatchObject({ failedOperations: 1, scaleUps: 1 });
  });
});

// ---- safe scale-down ------------------------------------------------------

describe("autoscaler: scale-down", () => {
  it("drains the least busy workers it manages, never one the provider does not run, and stops each only once it has left", async () => {
    const h = harness({ policy: { minWorkers: 1 } });
    join(h, "w-1", 3);
    join(h, "w-2", 0);
    join(h, "w-3", 1);
    join(h, "w-4", 2);
    // Registered by itself, not started by this provider: idle, but not ours to remove.
    h.fleet.register("ext-1", { inFlight: 0 });

    // 6 tasks on 20 slots is 0.3 against a target of 0.5: 5 workers → 3.
    await h.autoscaler.syncNow();
    expect(h.fleet.drained).toEqual(["w-2", "w-3"]);
    expect(h.provider.stoppedIds()).toEqual([]);
    expect(await lastEvent(h)).toMatchObject({
      reason: "ScaleDown",
      desiredWorkers: 3,
      action: "drain w-2, w-3",
      error: "",
    });
    expect(h.autoscaler.status()).toMatchObject({ scaleDowns: 1, desiredWorkers: 3 });

    // Still finishing their tasks: no stop, no second drain, and the draining ones are no longer capacity.
    await syncAfter(h, 1000);
    expect(h.fleet.drained).toEqual(["w-2", "w-3"]);
    expect(h.provider.stoppedIds()).toEqual([]);
    expect(h.autoscaler.status()).toMatchObject({
      currentWorkers: 3,
      startingWorkers: 0,
      scaleDowns: 1,
    });

    // w-2 finished and left; the platform no longer shows it.
    h.fleet.leave("w-2");
    h.provider.vanish("w-2");
    await syncAfter(h, 1000);
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);

    await syncAfter(h, 1000);
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);
    expect(h.fleet.drained).not.toContain("ext-1");
    expect(h.provider.calls.start).toEqual([]);
    expect(h.provider.calls.replace).toEqual([]);
  });

  it("stops a drained worker that overran drain_timeout_sec, and retries a refused stop at the next sync", async () => {
    const h = harness({ policy: { minWorkers: 1 } });
    join(h, "w-1", 1);
    join(h, "w-2", 0);

    await h.autoscaler.syncNow();
    expect(h.fleet.drained).toEqual(["w-2"]);

    // w-2 never leaves.
    await syncAt(h, START_MS + DRAIN_TIMEOUT_MS);
    expect(h.provider.stoppedIds()).toEqual([]);

    h.provider.refuseStop("w-2", new Error("container is busy"));
    await syncAt(h, START_MS + DRAIN_TIMEOUT_MS + 1);
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);
    expect(h.autoscaler.status().failedOperations).toBe(1);
    expect((await events(h)).filter((e) => e.error !== "")).toEqual([
      expect.objectContaining({
        reason: "ProviderFailed",
        action: "stop w-2",
        error: "container is busy",
      }),
    ]);

    // Still being removed: not drained again, not counted as capacity, stopped again.
    await syncAfter(h, 1000);
    expect(h.provider.stoppedIds()).toEqual(["w-2", "w-2"]);
    expect(h.fleet.drained).toEqual(["w-2"]);
    expect(h.autoscaler.status()).toMatchObject({ failedOperations: 1, scaleDowns: 1 });

    await syncAfter(h, 1000);
    expect(h.provider.stoppedIds()).toEqual(["w-2", "w-2"]);
    expect(h.provider.calls.replace).toEqual([]);
  });

  it("hands a drained worker to a provider that stops with the drain at once, and keeps it out of the fleet while the platform refuses", async () => {
    const h = harness({
      kind: "kubernetes",
      capabilities: KUBERNETES_CAPABILITIES,
      policy: { minWorkers: 1 },
    });
    join(h, "w-1", 1);
    join(h, "w-2", 0);
    join(h, "w-3", 0);
    // The ReplicaSet is still settling: the first scale-down is refused (a log line, not a failed operation).
    h.provider.refuseStop("w-2", new Error("DeploymentNotSettled"));

    // 1 task on 12 slots against a target of 0.5: 3 workers → 1, the two idle ones.
    await h.autoscaler.syncNow();
    expect(h.fleet.drained).toEqual(["w-2", "w-3"]);
    expect(h.provider.calls.stop).toEqual([["w-2", "w-3"]]);
    expect(await lastEvent(h)).toMatchObject({
      reason: "ScaleDown",
      desiredWorkers: 1,
      action: "drain w-2, w-3",
      error: "",
    });
    expect(h.autoscaler.status()).toMatchObject({
      failedOperations: 0,
      scaleDowns: 1,
      currentWorkers: 1,
    });

    // Still registered (draining) and refused: not stopped again until they leave or overrun drain_timeout_sec.
    await syncAfter(h, 1000);
    expect(h.provider.calls.stop).toEqual([["w-2", "w-3"]]);
    await syncAt(h, START_MS + DRAIN_TIMEOUT_MS + 1);
    expect(h.provider.calls.stop).toEqual([["w-2", "w-3"], ["w-2"], ["w-3"]]);
    expect(h.fleet.drained).toEqual(["w-2", "w-3"]);
    expect(h.provider.calls.start).toEqual([]);
  });

  // followUp stops the drained worker, then recover() reads the same, earlier
  // provider.list() answer, where it is still listed: it must not count as dead.
  it.each([
    { state: "exited" as const, detail: "exit code 0" },
    { state: "failed" as const, detail: "killed by SIGTERM" },
  ])(
    "does not bring back a drained worker that left and is listed $state",
    async ({ state, detail }) => {
      const h = harness({ policy: { minWorkers: 1 } });
      join(h, "w-1", 1);
      join(h, "w-2", 0);
      await h.autoscaler.syncNow();
      expect(h.fleet.drained).toEqual(["w-2"]);

      // The agent finished its tasks and ended; the local and docker providers list it until stopped.
      h.fleet.leave("w-2");
      h.provider.set("w-2", state, detail);
      await syncAfter(h, 1000);
      expect(h.provider.stoppedIds()).toEqual(["w-2"]);

      expect(h.provider.calls.replace).toEqual([]);
      expect(await eventsWith(h, "Recovering")).toEqual([]);
    },
  );
});

// ---- recovery -------------------------------------------------------------

describe("autoscaler: recovery", () => {
  it("replaces a failed worker with backoff, then gives up after max_recovery_attempts and says it is degraded", async () => {
    const h = harness({ policy: FROZEN, recovery: { maxAttempts: 2 } });
    join(h, "w-1");
    join(h, "w-2");
    await h.autoscaler.syncNow();

    die(h, "w-1");
    const firstMs = START_MS + 1000;
    await syncAt(h, firstMs);
    expect(h.provider.calls.replace).toEqual(["w-1"]);
    expect(await eventsWith(h, "Recovering")).toEqual([
      expect.objectContaining({
        action: "replace w-1",
        error: "",
        message: expect.stringContaining("restart 1 of 2"),
      }),
    ]);
    expect(h.autoscaler.status().degradedReason).toBeUndefined();

    // The new process registers, then dies again at once.
    join(h, "w-1");
    await syncAt(h, firstMs + 100);
    die(h, "w-1");
    await syncAt(h, firstMs + 200);
    // After restart 1 the next waits 2 s (RECOVERY_BACKOFF: 2 s, 4 s, 8 s … 60 s).
    await syncAt(h, firstMs + 1999);
    expect(h.provider.calls.replace).toEqual(["w-1"]);

    await syncAt(h, firstMs + 2000);
    expect(h.provider.calls.replace).toEqual(["w-1", "w-1"]);
    expect((await eventsWith(h, "Recovering"))[1]?.message).toContain("restart 2 of 2");

    join(h, "w-1");
    await syncAfter(h, 100);
    die(h, "w-1", "exit code 3");
    await syncAfter(h, 100);
    const status = h.autoscaler.status();
    expect(status.failedWorkers).toEqual(["w-1"]);
    expect(status.degradedReason).toContain("w-1");
    expect(status.degradedReason).toContain("scaling.max_recovery_attempts");
    expect(await eventsWith(h, "RecoveryFailed")).toEqual([
      expect.objectContaining({ action: "", error: "exit code 3" }),
    ]);

    // Given up on: no further restart, however long the wait.
    await syncAfter(h, 120_000);
    expect(h.provider.calls.replace).toEqual(["w-1", "w-1"]);
    expect(await eventsWith(h, "RecoveryFailed")).toHaveLength(1);
    expect(h.autoscaler.status().failedWorkers).toEqual(["w-1"]);
  });

  // Was a bug: the provider no longer lists a stopped restart, so recovery lost track of it.
  it("counts a replacement that never registers as a failed restart, and gives up after max_recovery_attempts", async () => {
    const h = harness({ policy: FROZEN, recovery: { maxAttempts: 1 } });
    join(h, "w-1");
    join(h, "w-2");
    await h.autoscaler.syncNow();
    die(h, "w-1");
    await syncAfter(h, 1000);
    expect(h.provider.calls.replace).toEqual(["w-1"]);

    // The new process hangs: it never registers.
    await syncAfter(h, START_TIMEOUT_MS + 1);
    await syncAfter(h, 60_000);
    expect(h.autoscaler.status().failedWorkers).toEqual(["w-1"]);
    expect(h.autoscaler.status().degradedReason ?? "(not degraded)").toContain(
      "scaling.max_recovery_attempts",
    );
  });

  it("cleans up a worker that exited cleanly on its own instead of restarting it", async () => {
    const h = harness({ policy: FROZEN });
    join(h, "w-1");
    join(h, "w-2");
    await h.autoscaler.syncNow();

    // An operator drained w-2; it finished and exited with code 0.
    h.fleet.leave("w-2");
    h.provider.set("w-2", "exited", "exit code 0");
    await syncAfter(h, 1000);
    expect(h.provider.stoppedIds()).toEqual(["w-2"]);
    expect(h.provider.calls.replace).toEqual([]);
    expect(await eventsWith(h, "Recovering")).toEqual([]);
    expect(h.autoscaler.status()).toMatchObject({
      failedWorkers: [],
      degradedReason: undefined,
      failedOperations: 0,
    });
  });

  it("fails a dead worker at once when auto recovery is off, naming scaling.enable_auto_recovery", async () => {
    const h = harness({ policy: FROZEN, recovery: { isEnabled: false } });
    join(h, "w-1");
    join(h, "w-2");
    await h.autoscaler.syncNow();

    die(h, "w-1", "killed by SIGKILL");
    await syncAfter(h, 1000);
    expect(h.provider.calls.replace).toEqual([]);
    const status = h.autoscaler.status();
    expect(status.failedWorkers).toEqual(["w-1"]);
    expect(status.degradedReason).toContain("scaling.enable_auto_recovery");
    expect(await eventsWith(h, "RecoveryFailed")).toEqual([
      expect.objectContaining({ error: "killed by SIGKILL" }),
    ]);
  });

  // Was a bug: a provider list error overwrote the degraded reason, and the next good list cleared it.
  it("stays degraded by a worker given up on after a provider list error has cleared", async () => {
    const h = harness({ policy: FROZEN, recovery: { isEnabled: false } });
    join(h, "w-1");
    join(h, "w-2");
    await h.autoscaler.syncNow();
    die(h, "w-1");
    await syncAfter(h, 1000);
    expect(h.autoscaler.status().degradedReason).toContain("scaling.enable_auto_recovery");

    h.provider.failNextList(new Error("connection refused"));
    await syncAfter(h, 1000);
    expect(h.autoscaler.status().degradedReason).toContain("cannot list");

    await syncAfter(h, 1000);
    expect(h.autoscaler.status().failedWorkers).toEqual(["w-1"]);
    expect(h.autoscaler.status().degradedReason ?? "(not degraded)").toContain("w-1");
  });
});

// ---- modes: manual, off, external -----------------------------------------

describe("autoscaler: manual target, off, external", () => {
  it("holds a manual target over the policy with autoscaling off, until setEnabled(true) brings the policy back", async () => {
    const h = harness({ policy: { minWorkers: 2 } });
    join(h, "w-1");
    join(h, "w-2");

    await h.autoscaler.scaleTo(4);
    expect(h.provider.calls.start).toEqual([2]);
    expect(h.autoscaler.status()).toMatchObject({
      isEnabled: false,
      mode: "manual",
      desiredWorkers: 4,
    });
    expect(await lastEvent(h)).toMatchObject({
      reason: "Manual",
      mode: "manual",
      desiredWorkers: 4,
      action: "start 2 (w-3, w-4)",
    });

    // Four idle workers: the policy would keep 2, the manual target keeps 4.
    join(h, "w-3");
    join(h, "w-4");
    await syncAfter(h, 1000);
    expect(h.fleet.drained).toEqual([]);
    expect(await lastEvent(h)).toMatchObject({
      reason: "Manual",
      readyWorkers: 4,
      desiredWorkers: 4,
      action: "",
    });

    await h.autoscaler.setEnabled(true);
    expect(h.autoscaler.status()).toMatchObject({
      isEnabled: true,
      mode: "normal",
      desiredWorkers: 2,
    });
    expect(h.fleet.drained).toHaveLength(2);
    expect(await lastEvent(h)).toMatchObject({
      reason: "AtMinimum",
      mode: "normal",
      desiredWorkers: 2,
    });
  });

  it("handed back to the policy, waits out cool_down_sec before shrinking what a manual target built", async () => {
    const h = harness({ policy: { minWorkers: 2, coolDownSec: 30 } });
    for (const id of ["w-1", "w-2", "w-3", "w-4"]) join(h, id);
    await h.autoscaler.scaleTo(4);

    await h.autoscaler.setEnabled(true);
    expect(h.fleet.drained).toEqual([]);
    expect(await lastEvent(h)).toMatchObject({
      reason: "CoolingDown",
      desiredWorkers: 4,
      action: "",
    });

    await syncAfter(h, 30_000);
    expect(h.fleet.drained).toHaveLength(2);
    expect(await lastEvent(h)).toMatchObject({ reason: "AtMinimum", desiredWorkers: 2 });
  });

  it("starts nothing and records nothing while disabled", async () => {
    const h = harness({ isEnabled: false, policy: { minWorkers: 2 } });
    await h.autoscaler.syncNow();
    // One overloaded worker: the policy would want more.
    join(h, "w-1", 4);
    h.fleet.pendingCount = 10;
    await syncAfter(h, 1000);

    expect(h.provider.calls.start).toEqual([]);
    expect(h.provider.stoppedIds()).toEqual([]);
    expect(h.fleet.drained).toEqual([]);
    expect(await events(h)).toEqual([]);
    expect(h.autoscaler.status()).toMatchObject({
      isEnabled: false,
      mode: "off",
      desiredWorkers: 0,
      scaleUps: 0,
      lastEvent: undefined,
    });
  });

  it.each([
    {
      name: "an empty fleet below min_workers",
      inFlightByWorker: [] as number[],
      desired: 2,
      reason: "AtMinimum",
    },
    // 5 tasks on 20 slots is 0.25 against a target of 0.5: 5 workers → 3.
    {
      name: "a fleet larger than its load needs",
      inFlightByWorker: [1, 1, 1, 1, 1],
      desired: 3,
      reason: "ScaleDown",
    },
  ])(
    "records the decision for $name with the external provider, and acts on nothing",
    async ({ inFlightByWorker, desired, reason }) => {
      const h = harness({
        kind: "external",
        capabilities: EXTERNAL_CAPABILITIES,
        policy: { minWorkers: 2 },
      });
      inFlightByWorker.forEach((inFlight, i) => h.fleet.register(`ext-${i + 1}`, { inFlight }));

      await h.autoscaler.syncNow();
      expect(await lastEvent(h)).toMatchObject({
        reason,
        desiredWorkers: desired,
        action: "",
        error: "",
      });
      expect(h.autoscaler.status()).toMatchObject({
        provider: "external",
        desiredWorkers: desired,
        scaleUps: 0,
        scaleDowns: 0,
      });
      expect(h.provider.calls.start).toEqual([]);
      expect(h.provider.calls.stop).toEqual([]);
      expect(h.fleet.drained).toEqual([]);
    },
  );
});

// ---- provider outages -----------------------------------------------------

describe("autoscaler: provider outages", () => {
  it("is degraded while the provider cannot list its workers, and recovers at the next good list", async () => {
    const h = harness({ policy: { minWorkers: 2 } });
    h.provider.failNextList(new Error("connection refused"));

    await h.autoscaler.syncNow();
    expect(h.autoscaler.status()).toMatchObject({
      degradedReason: "provider local cannot list its workers: connection refused",
      failedOperations: 1,
    });
    expect(await lastEvent(h)).toMatchObject({
      reason: "ProviderFailed",
      action: "list",
      error: "connection refused",
    });
    // Nothing is started blind.
    expect(h.provider.calls.start).toEqual([]);

    await syncAfter(h, 1000);
    expect(h.autoscaler.status().degradedReason).toBeUndefined();
    expect(h.autoscaler.status().failedOperations).toBe(1);
    expect(h.provider.calls.start).toEqual([2]);
  });
});

// ---- start(), stop() and the fleet waker ----------------------------------

describe("autoscaler: start, stop and the fleet waker", () => {
  const started: Autoscaler[] = [];

  beforeEach(() => {
    // start() installs a setInterval; a fake one never fires unless the test advances it.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.stop()));
    vi.useRealTimers();
  });

  async function startHarness(options: HarnessOptions): Promise<Harness> {
    const h = harness(options);
    h.autoscaler.start();
    started.push(h.autoscaler);
    // The sync start() runs at once.
    await h.autoscaler.syncNow();
    return h;
  }

  it("start() attaches the fleet hooks and syncs every interval; stop() detaches both", async () => {
    const h = await startHarness({ policy: { minWorkers: 2 } });
    expect(h.fleet.hooks?.wake).toBeTypeOf("function");
    expect(vi.getTimerCount()).toBe(1);
    const listsAfterStart = h.provider.calls.list;

    vi.advanceTimersByTime(SYNC_INTERVAL_MS);
    await h.autoscaler.syncNow();
    expect(h.provider.calls.list).toBe(listsAfterStart + 1);

    await h.autoscaler.stop();
    expect(h.fleet.hooks).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each([
    {
      name: "the one it is given",
      workerTemplate: { region: "eu", zone: "eu-1", capabilities: ["gpu"] },
      expected: { region: "eu", zone: "eu-1", capabilities: ["gpu"] },
    },
    {
      name: "a plain worker when it is given none",
      workerTemplate: undefined,
      expected: { region: "", zone: "", capabilities: [] },
    },
  ])(
    "offers the coordinator $name as what its workers look like",
    async ({ workerTemplate, expected }) => {
      const h = await startHarness({
        policy: { minWorkers: 1 },
        ...(workerTemplate ? { workerTemplate } : {}),
      });
      expect(h.fleet.hooks?.template).toEqual(expected);
    },
  );

  it("a task that waits for a slot brings the next sync forward, at most once a second", async () => {
    const h = await startHarness({ policy: { minWorkers: 1 } });
    expect(h.fleet.hooks?.onQueued).toBeTypeOf("function");
    const listsBefore = h.provider.calls.list;
    h.fleet.hooks?.onQueued();
    await h.autoscaler.syncNow();
    expect(h.provider.calls.list).toBe(listsBefore + 1);
    // A burst of queued tasks within the second asks for no more syncs.
    h.fleet.hooks?.onQueued();
    h.fleet.hooks?.onQueued();
    expect(h.provider.calls.list).toBe(listsBefore + 1);
    h.clock.nowMs += 1_000;
    h.fleet.hooks?.onQueued();
    await h.autoscaler.syncNow();
    expect(h.provider.calls.list).toBe(listsBefore + 2);
    await h.autoscaler.stop();
    expect(h.fleet.hooks).toBeUndefined();
  });

  interface WakerCase {
    readonly name: string;
    readonly options: HarnessOptions;
    readonly prepare: (autoscaler: Autoscaler) => Promise<void>;
    readonly isWoken: boolean;
    readonly starts: number[];
  }
  const nothing = async (): Promise<void> => {};

  it.each<WakerCase>([
    // Scale to zero: the empty, idle fleet stays empty until a task arrives, and the waker's sync wakes it.
    { name: "enabled", options: {}, prepare: nothing, isWoken: true, starts: [1] },
    {
      name: "under a manual target",
      options: {},
      prepare: (a) => a.scaleTo(0),
      isWoken: true,
      starts: [],
    },
    {
      name: "disabled from the start",
      options: { isEnabled: false },
      prepare: nothing,
      isWoken: false,
      starts: [],
    },
    {
      name: "switched off",
      options: {},
      prepare: (a) => a.setEnabled(false),
      isWoken: false,
      starts: [],
    },
    {
      name: "on the external provider",
      options: { kind: "external", capabilities: EXTERNAL_CAPABILITIES },
      prepare: nothing,
      isWoken: false,
      starts: [],
    },
  ])(
    "the fleet waker answers $isWoken when $name",
    async ({ options, prepare, isWoken, starts }) => {
      const h = await startHarness({
        ...options,
        policy: { minWorkers: 0, allowScaleToZero: true },
      });
      await prepare(h.autoscaler);
      expect(h.provider.calls.start).toEqual([]);
      const listsBefore = h.provider.calls.list;

      h.fleet.pendingCount = 1;
      expect(h.fleet.hooks?.wake()).toBe(isWoken);
      // A sync asks the provider for its list before its first await, so one the waker started shows at once.
      expect(h.provider.calls.list).toBe(listsBefore + (isWoken ? 1 : 0));
      if (isWoken) {
        // Joins the waker's sync rather than starting another.
        await h.autoscaler.syncNow();
        expect(h.provider.calls.list).toBe(listsBefore + 1);
      }
      expect(h.provider.calls.start).toEqual(starts);
      if (starts.length > 0)
        expect(await lastEvent(h)).toMatchObject({
          reason: "WakeFromZero",
          action: "start 1 (w-1)",
        });
    },
  );
});

describe("autoscaler: metrics", () => {
  it("counts each sync's decision by its reason and shows the bounds", async () => {
    const decisions = async (reason: string): Promise<number> => {
      const metric = registry.getSingleMetric("scalemesh_autoscaler_decisions_total");
      const values = (await metric?.get())?.values ?? [];
      return values.find((v) => v.labels.reason === reason)?.value ?? 0;
    };
    const before = await decisions("AtMinimum");
    const h = harness({ policy: { minWorkers: 2, maxWorkers: 7 } });
    await h.autoscaler.syncNow();
    await syncAfter(h, 500);
    expect((await decisions("AtMinimum")) - before).toBe(2);
    const text = await registry.metrics();
    expect(text).toMatch(/^scalemesh_autoscaler_min_workers 2$/m);
    expect(text).toMatch(/^scalemesh_autoscaler_max_workers 7$/m);
  });
});
