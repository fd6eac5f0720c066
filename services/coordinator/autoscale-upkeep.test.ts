// Table tests of the autoscaling loop's upkeep: each case is a fleet as
// observed, the loop's memory, the provider's capabilities and the time,
// and the effects (with their reasons) that come back. The recovery step
// itself has its own tables (autoscale-recovery.test.ts); here, which
// workers count as dead and reach it.
import { describe, expect, it } from "vitest";
import type { RecoverySettings, RecoveryState } from "./autoscale-recovery.js";
import {
  planUpkeep,
  startingWorkerIds,
  type FleetMemory,
  type UpkeepEffect,
} from "./autoscale-upkeep.js";
import { LOCAL_CAPABILITIES } from "./providers/local-provider.js";
import type { ProvidedState, ProviderCapabilities } from "./providers/worker-provider.js";

const NOW = 1_700_000_000_000;
const START_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 60_000;

// ---- fixtures -------------------------------------------------------------

interface Fleet {
  /** What the provider lists: id → state, or [state, detail]. */
  readonly provided?: Record<string, ProvidedState | [ProvidedState, string]>;
  /** Registered with the coordinator: id → when. */
  readonly registered?: Record<string, number>;
  readonly starts?: Record<string, number>;
  readonly removing?: Record<string, number>;
  readonly recovery?: Record<string, RecoveryState>;
  readonly healthySince?: Record<string, number>;
  readonly failedWorkers?: Record<string, string>;
  readonly lostRestarts?: Record<string, string>;
}

function observedOf(fleet: Fleet) {
  const provided = Object.entries(fleet.provided ?? {}).map(([workerId, value]) => {
    const [state, detail] = Array.isArray(value) ? value : [value, value];
    return { workerId, state, detail };
  });
  return { provided, registered: new Map(Object.entries(fleet.registered ?? {})) };
}

function memoryOf(fleet: Fleet): FleetMemory {
  const map = <T>(record: Record<string, T> | undefined): Map<string, T> =>
    new Map(Object.entries(record ?? {}));
  return {
    starts: map(fleet.starts),
    removing: map(fleet.removing),
    recovery: map(fleet.recovery),
    healthySince: map(fleet.healthySince),
    failedWorkers: map(fleet.failedWorkers),
    lostRestarts: map(fleet.lostRestarts),
  };
}

const CANNOT_STOP: ProviderCapabilities = { ...LOCAL_CAPABILITIES, canStop: false };
const CANNOT_START: ProviderCapabilities = { ...LOCAL_CAPABILITIES, canStart: false };

interface UpkeepCase {
  readonly name: string;
  readonly fleet: Fleet;
  readonly nowMs?: number;
  readonly capabilities?: ProviderCapabilities;
  readonly recovery?: Partial<RecoverySettings>;
  readonly effects: readonly Partial<UpkeepEffect>[];
}

/** The one assertion: exactly these effects, in this order, each matching the fields named. */
function expectUpkeep(c: UpkeepCase): void {
  const effects = planUpkeep({
    nowMs: c.nowMs ?? NOW,
    observed: observedOf(c.fleet),
    memory: memoryOf(c.fleet),
    capabilities: c.capabilities ?? LOCAL_CAPABILITIES,
    settings: {
      startTimeoutMs: START_TIMEOUT_MS,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
      recovery: { isEnabled: true, maxAttempts: 3, ...c.recovery },
    },
  });
  expect(effects).toMatchObject(c.effects);
  expect(effects).toHaveLength(c.effects.length);
}

// ---- upkeep ---------------------------------------------------------------

describe("planUpkeep: starts", () => {
  it.each<UpkeepCase>([
    {
      name: "a start that registered joins, timed from the ask to its own registration",
      fleet: {
        starts: { "w-1": NOW - 5000 },
        registered: { "w-1": NOW - 2000 },
        provided: { "w-1": "running" },
      },
      effects: [{ kind: "joined", workerId: "w-1", reason: "Registered", healthySec: 3 }],
    },
    {
      name: "a start not registered past worker_start_timeout_sec is timed out and stopped",
      fleet: { starts: { "w-1": NOW - START_TIMEOUT_MS - 1 }, provided: { "w-1": "starting" } },
      effects: [
        {
          kind: "start_timed_out",
          workerId: "w-1",
          reason: "StartTimedOut",
          isRestart: false,
          shouldStop: true,
          message: "w-1 did not register within 10 s (autoscaler.worker_start_timeout_sec)",
        },
      ],
    },
    {
      name: "a start at exactly worker_start_timeout_sec still has time",
      fleet: { starts: { "w-1": NOW - START_TIMEOUT_MS }, provided: { "w-1": "starting" } },
      effects: [],
    },
    {
      // Still listed as starting: not dead in this sync, it is recovered once the provider no longer lists it.
      name: "a restart that timed out is still being recovered",
      fleet: {
        starts: { "w-1": NOW - START_TIMEOUT_MS - 1 },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW } },
        provided: { "w-1": "starting" },
      },
      effects: [{ kind: "start_timed_out", workerId: "w-1", isRestart: true }],
    },
    {
      name: "a restart that timed out and is no longer listed is recovered in the same sync",
      fleet: {
        starts: { "w-1": NOW - START_TIMEOUT_MS - 1 },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW } },
      },
      effects: [
        { kind: "start_timed_out", workerId: "w-1", isRestart: true },
        { kind: "restart", workerId: "w-1", recovery: { attempts: 2, nextAtMs: NOW + 4000 } },
      ],
    },
    {
      name: "a timed-out start is forgotten but not stopped by a provider that cannot stop",
      fleet: { starts: { "w-1": NOW - START_TIMEOUT_MS - 1 } },
      capabilities: CANNOT_STOP,
      effects: [{ kind: "start_timed_out", workerId: "w-1", shouldStop: false }],
    },
  ])("$name", expectUpkeep);
});

describe("planUpkeep: removals and clean-ups", () => {
  it.each<UpkeepCase>([
    {
      name: "a drained worker that left and is no longer listed is stopped",
      fleet: { removing: { "w-2": NOW - 1000 } },
      effects: [{ kind: "finish_removal", workerId: "w-2", reason: "LeftAfterDrain" }],
    },
    {
      name: "a drained worker that left and is listed exited is stopped, not cleaned up twice",
      fleet: { removing: { "w-2": NOW - 1000 }, provided: { "w-2": ["exited", "exit code 0"] } },
      effects: [{ kind: "finish_removal", workerId: "w-2", reason: "LeftAfterDrain" }],
    },
    {
      name: "a drained worker that left and is listed failed is stopped, not restarted",
      fleet: {
        removing: { "w-2": NOW - 1000 },
        provided: { "w-2": ["failed", "killed by SIGTERM"] },
      },
      effects: [{ kind: "finish_removal", workerId: "w-2", reason: "LeftAfterDrain" }],
    },
    {
      name: "a drained worker still registered finishes its tasks first",
      fleet: {
        removing: { "w-2": NOW - DRAIN_TIMEOUT_MS },
        registered: { "w-2": NOW - 90_000 },
        provided: { "w-2": "running" },
      },
      effects: [],
    },
    {
      name: "a drained worker that overran drain_timeout_sec is stopped anyway",
      fleet: {
        removing: { "w-2": NOW - DRAIN_TIMEOUT_MS - 1 },
        registered: { "w-2": NOW - 90_000 },
        provided: { "w-2": "running" },
      },
      effects: [
        {
          kind: "finish_removal",
          workerId: "w-2",
          reason: "DrainTimedOut",
          message: expect.stringContaining("autoscaler.drain_timeout_sec"),
        },
      ],
    },
    {
      name: "a worker that exited cleanly on its own is cleaned up, not restarted",
      fleet: {
        provided: { "w-1": "running", "w-2": ["exited", "exit code 0"] },
        registered: { "w-1": NOW - 90_000 },
      },
      effects: [
        {
          kind: "clean_up",
          workerId: "w-2",
          reason: "ExitedOnItsOwn",
          message: expect.stringContaining("exit code 0"),
        },
      ],
    },
    {
      name: "an exited worker is left listed by a provider that cannot stop",
      fleet: { provided: { "w-2": "exited" } },
      capabilities: CANNOT_STOP,
      effects: [],
    },
    {
      name: "a worker given up on that registers again is no longer failed",
      fleet: {
        failedWorkers: { "w-1": "gave up" },
        registered: { "w-1": NOW - 100 },
        provided: { "w-1": "running" },
      },
      effects: [{ kind: "clear_failure", workerId: "w-1", reason: "RegisteredAgain" }],
    },
  ])("$name", expectUpkeep);
});

describe("planUpkeep: which dead workers reach recovery", () => {
  const dead: Fleet["provided"] = { "w-1": ["failed", "exit code 1"] };
  it.each<UpkeepCase>([
    {
      name: "a worker the provider lists as failed, with the provider's words",
      fleet: { provided: dead, registered: {} },
      effects: [
        {
          kind: "restart",
          workerId: "w-1",
          reason: "RestartDue",
          detail: "exit code 1",
          recovery: { attempts: 1, nextAtMs: NOW + 2000 },
        },
      ],
    },
    {
      name: "a worker dead inside its backoff, which waits",
      fleet: { provided: dead, recovery: { "w-1": { attempts: 1, nextAtMs: NOW + 500 } } },
      effects: [{ kind: "wait", workerId: "w-1", reason: "BackingOff" }],
    },
    {
      name: "a restart that never registered and is no longer listed, with why",
      fleet: {
        lostRestarts: { "w-1": "w-1 did not register within 10 s" },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW } },
      },
      effects: [
        {
          kind: "restart",
          workerId: "w-1",
          detail: "w-1 did not register within 10 s",
          recovery: { attempts: 2, nextAtMs: NOW + 4000 },
        },
      ],
    },
    {
      name: "a worker whose restart joined this sync and died counts its restarts on (healthy since now)",
      fleet: {
        starts: { "w-1": NOW - 1000 },
        registered: { "w-1": NOW - 500 },
        provided: dead,
        recovery: { "w-1": { attempts: 3, nextAtMs: NOW } },
        healthySince: { "w-1": NOW - 120_000 },
      },
      effects: [
        { kind: "joined", workerId: "w-1" },
        { kind: "give_up", workerId: "w-1", reason: "RecoveryExhausted" },
      ],
    },
    {
      name: "not a lost restart listed again and not failed",
      fleet: {
        lostRestarts: { "w-1": "did not register" },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW } },
        provided: { "w-1": "starting" },
      },
      effects: [],
    },
    {
      name: "not a worker still starting (its start times out first)",
      fleet: { provided: dead, starts: { "w-1": NOW - 1000 } },
      effects: [],
    },
    {
      name: "not a worker being drained away",
      fleet: {
        provided: dead,
        removing: { "w-1": NOW - 1000 },
        registered: { "w-1": NOW - 90_000 },
      },
      effects: [],
    },
    {
      name: "not a worker already given up on",
      fleet: { provided: dead, failedWorkers: { "w-1": "gave up" } },
      effects: [],
    },
    {
      name: "nothing on a provider that cannot start",
      fleet: { provided: dead },
      capabilities: CANNOT_START,
      effects: [],
    },
    {
      name: "recovery off: given up on at once",
      fleet: { provided: dead },
      recovery: { isEnabled: false },
      effects: [{ kind: "give_up", workerId: "w-1", reason: "RecoveryOff" }],
    },
  ])("$name", expectUpkeep);
});

// ---- what counts as starting ----------------------------------------------

describe("startingWorkerIds", () => {
  it.each<{ name: string; fleet: Fleet; removed?: string[]; starting: string[] }>([
    {
      name: "asked for and not registered, oldest ask first",
      fleet: { starts: { "w-2": NOW - 2000, "w-1": NOW - 1000 } },
      starting: ["w-2", "w-1"],
    },
    {
      name: "a dead worker waiting out its backoff",
      fleet: {
        provided: { "w-1": "failed" },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW + 1000 } },
      },
      starting: ["w-1"],
    },
    {
      name: "a lost restart waiting out its backoff",
      fleet: {
        lostRestarts: { "w-1": "did not register" },
        recovery: { "w-1": { attempts: 1, nextAtMs: NOW + 1000 } },
      },
      starting: ["w-1"],
    },
    {
      name: "what the provider runs and has not registered (a pod it could not name)",
      fleet: { provided: { "pod-a": "starting", "pod-b": "running" } },
      starting: ["pod-a", "pod-b"],
    },
    {
      name: "not a registered worker",
      fleet: { provided: { "w-1": "running" }, registered: { "w-1": NOW } },
      starting: [],
    },
    {
      name: "not one being removed",
      fleet: { provided: { "w-1": "running" }, removing: { "w-1": NOW } },
      starting: [],
    },
    {
      name: "not one stopped during this sync",
      fleet: {
        provided: { "w-1": "starting" },
        recovery: { "w-2": { attempts: 1, nextAtMs: NOW } },
        lostRestarts: { "w-2": "lost" },
      },
      removed: ["w-1", "w-2"],
      starting: [],
    },
    {
      name: "not one given up on",
      fleet: {
        provided: { "w-1": "failed" },
        recovery: { "w-1": { attempts: 3, nextAtMs: NOW } },
        failedWorkers: { "w-1": "gave up" },
      },
      starting: [],
    },
    {
      name: "each once, asked-for ones first",
      fleet: { starts: { "w-2": NOW }, provided: { "w-1": "starting", "w-2": "starting" } },
      starting: ["w-2", "w-1"],
    },
  ])("counts $name", ({ fleet, removed = [], starting }) => {
    expect(
      startingWorkerIds({
        observed: observedOf(fleet),
        memory: memoryOf(fleet),
        removed: new Set(removed),
      }),
    ).toEqual(starting);
  });
});
