// Table tests of one dead worker's recovery step: the README's backoff
// (2 s, 4 s, 8 s … 60 s), the attempt limit, recovery switched off, and a
// healthy minute that starts the count afresh.
import { describe, expect, it } from "vitest";
import {
  recoveryStep,
  type DeadWorker,
  type RecoverySettings,
  type RecoveryStep,
} from "./autoscale-recovery.js";

const NOW = 1_700_000_000_000;

interface StepCase {
  readonly name: string;
  readonly dead?: Partial<DeadWorker>;
  readonly settings?: Partial<RecoverySettings>;
  readonly step: Partial<RecoveryStep>;
}

function deadWorker(overrides: Partial<DeadWorker> = {}): DeadWorker {
  return {
    workerId: "w-1",
    detail: "exit code 1",
    known: undefined,
    healthySinceMs: undefined,
    ...overrides,
  };
}

/** The one assertion: the step, matching the fields named. */
function expectStep(c: Omit<StepCase, "name">): void {
  expect(
    recoveryStep(deadWorker(c.dead), { isEnabled: true, maxAttempts: 3, ...c.settings }, NOW),
  ).toMatchObject(c.step);
}

describe("recoveryStep", () => {
  it.each<StepCase>([
    {
      name: "restarts a worker that died for the first time at once",
      step: {
        kind: "restart",
        reason: "RestartDue",
        workerId: "w-1",
        detail: "exit code 1",
        recovery: { attempts: 1, nextAtMs: NOW + 2000 },
        message: "worker w-1 died (exit code 1); restart 1 of 3",
      },
    },
    {
      name: "restarts when its backoff has just passed",
      dead: { known: { attempts: 1, nextAtMs: NOW } },
      step: {
        kind: "restart",
        recovery: { attempts: 2, nextAtMs: NOW + 4000 },
        message: "worker w-1 died (exit code 1); restart 2 of 3",
      },
    },
    {
      name: "waits inside its backoff, saying for how long",
      dead: { known: { attempts: 1, nextAtMs: NOW + 500 } },
      step: {
        kind: "wait",
        reason: "BackingOff",
        recovery: { attempts: 1, nextAtMs: NOW + 500 },
        message: "worker w-1 died (exit code 1); restart 2 of 3 in 0.5 s (backoff)",
      },
    },
    {
      name: "gives up after max_recovery_attempts restarts",
      dead: { known: { attempts: 3, nextAtMs: NOW } },
      step: {
        kind: "give_up",
        reason: "RecoveryExhausted",
        detail: "exit code 1",
        recovery: { attempts: 3, nextAtMs: NOW },
        message:
          "worker w-1 failed (exit code 1); gave up after 3 restart(s) (scaling.max_recovery_attempts)",
      },
    },
    {
      name: "gives up at once when auto recovery is off",
      settings: { isEnabled: false },
      step: {
        kind: "give_up",
        reason: "RecoveryOff",
        message:
          "worker w-1 failed (exit code 1); auto recovery is off (scaling.enable_auto_recovery)",
      },
    },
    {
      name: "counts afresh for a worker healthy for over a minute",
      dead: { known: { attempts: 3, nextAtMs: NOW - 120_000 }, healthySinceMs: NOW - 60_001 },
      step: { kind: "restart", recovery: { attempts: 1, nextAtMs: NOW + 2000 } },
    },
    {
      name: "keeps the count of a worker healthy for a minute or less",
      dead: { known: { attempts: 3, nextAtMs: NOW }, healthySinceMs: NOW - 60_000 },
      step: { kind: "give_up", reason: "RecoveryExhausted" },
    },
  ])("$name", expectStep);

  // The README's promise: 2 s, 4 s, 8 s … up to 60 s between restarts.
  it.each([
    { attempts: 0, waitMs: 2_000 },
    { attempts: 1, waitMs: 4_000 },
    { attempts: 2, waitMs: 8_000 },
    { attempts: 3, waitMs: 16_000 },
    { attempts: 4, waitMs: 32_000 },
    { attempts: 5, waitMs: 60_000 },
    { attempts: 8, waitMs: 60_000 },
  ])("after restart $attempts + 1 the next may come $waitMs ms later", ({ attempts, waitMs }) => {
    expectStep({
      dead: { known: { attempts, nextAtMs: NOW } },
      settings: { maxAttempts: 20 },
      step: { kind: "restart", recovery: { attempts: attempts + 1, nextAtMs: NOW + waitMs } },
    });
  });
});
