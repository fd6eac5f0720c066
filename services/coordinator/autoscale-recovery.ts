// What becomes of one dead worker: restarted now, waiting out its backoff,
// or given up on. The README's promise, as one pure step: restarts 2 s, 4 s,
// 8 s … (up to 60 s) apart, at most scaling.max_recovery_attempts of them,
// and a worker healthy for a minute counts afresh.
import { backoffCeilingMs, type BackoffPolicy } from "../../libs/backoff/index.js";

export interface RecoverySettings {
  readonly isEnabled: boolean;
  readonly maxAttempts: number;
}

/**
 * The wait after the n-th restart, should it fail too. Its ceiling, not a
 * jittered draw: jitter spreads many clients retrying one server, and here
 * one loop restarts its own workers, a sync apart.
 */
export const RECOVERY_BACKOFF: BackoffPolicy = { initialMs: 2_000, maxMs: 60_000 };

/** A worker healthy this long starts its recovery count afresh. */
export const RECOVERY_RESET_MS = 60_000;

/** A dead worker being brought back: restarts made so far, and the earliest the next may be. */
export interface RecoveryState {
  readonly attempts: number;
  readonly nextAtMs: number;
}

export const RecoveryReason = {
  RestartDue: "RestartDue",
  BackingOff: "BackingOff",
  RecoveryOff: "RecoveryOff",
  RecoveryExhausted: "RecoveryExhausted",
} as const;
export type RecoveryReason = (typeof RecoveryReason)[keyof typeof RecoveryReason];

interface StepBase<R extends RecoveryReason> {
  readonly workerId: string;
  readonly reason: R;
  readonly message: string;
  /** Its state from now on (the loop keeps it). */
  readonly recovery: RecoveryState;
}

export type RecoveryStep =
  /** Replaced now. */
  | (StepBase<"RestartDue"> & { readonly kind: "restart"; readonly detail: string })
  /** Its backoff has not passed: it waits (and counts as starting). */
  | (StepBase<"BackingOff"> & { readonly kind: "wait" })
  /** No restart is left, or recovery is off: failed, and the status is degraded. */
  | (StepBase<"RecoveryOff" | "RecoveryExhausted"> & {
      readonly kind: "give_up";
      readonly detail: string;
    });

export interface DeadWorker {
  readonly workerId: string;
  /** The platform's words for how it died. */
  readonly detail: string;
  /** Its recovery so far, if any. */
  readonly known: RecoveryState | undefined;
  /** When its last start was seen to register, if it was. */
  readonly healthySinceMs: number | undefined;
}

export function recoveryStep(
  dead: DeadWorker,
  settings: RecoverySettings,
  nowMs: number,
): RecoveryStep {
  const { workerId, detail, known, healthySinceMs } = dead;
  const isFresh =
    known === undefined ||
    (healthySinceMs !== undefined && nowMs - healthySinceMs > RECOVERY_RESET_MS);
  const state = isFresh ? { attempts: 0, nextAtMs: nowMs } : known;
  if (!settings.isEnabled) {
    const message = `worker ${workerId} failed (${detail}); auto recovery is off (scaling.enable_auto_recovery)`;
    return {
      kind: "give_up",
      workerId,
      reason: RecoveryReason.RecoveryOff,
      message,
      detail,
      recovery: state,
    };
  }
  if (state.attempts >= settings.maxAttempts) {
    const message = `worker ${workerId} failed (${detail}); gave up after ${state.attempts} restart(s) (scaling.max_recovery_attempts)`;
    return {
      kind: "give_up",
      workerId,
      reason: RecoveryReason.RecoveryExhausted,
      message,
      detail,
      recovery: state,
    };
  }
  const next = state.attempts + 1;
  if (nowMs < state.nextAtMs) {
    const message = `worker ${workerId} died (${detail}); restart ${next} of ${settings.maxAttempts} in ${(state.nextAtMs - nowMs) / 1000} s (backoff)`;
    return { kind: "wait", workerId, reason: RecoveryReason.BackingOff, message, recovery: state };
  }
  const recovery = { attempts: next, nextAtMs: nowMs + backoffCeilingMs(RECOVERY_BACKOFF, next) };
  const message = `worker ${workerId} died (${detail}); restart ${next} of ${settings.maxAttempts}`;
  return {
    kind: "restart",
    workerId,
    reason: RecoveryReason.RestartDue,
    message,
    detail,
    recovery,
  };
}
