// The coordinator's answer to its own pause. Woken from a SIGSTOP, Node runs
// the liveness timer and the socket reads in whatever order they fall due: a
// timer that goes first sees every heartbeat as old as the pause; a
// heartbeat read first may have been written before an assignment reached
// its worker. So both read the clocks (pause-detector.ts), and whichever
// sees the jump first begins a hold: for one heartbeat timeout a worker is
// judged only once it has been heard from again (liveness.ts isHeld), and no
// heartbeat judges a task lost. One warn line when the hold begins, one info
// line when it ends.
import type { Logger } from "pino";
import { WorkerState } from "../../libs/contracts/index.js";
import { holdAfterPause, isHeardSince, isHoldOver, type LivenessHold } from "./liveness.js";
import { createPauseWatch, type ClockReading, type PauseVerdict } from "./pause-detector.js";
import type { WorkerRecord } from "./worker-registry.js";

/** For the warn line: the workers whose judgement waits, and how many the stale view would have declared dead. */
export interface HoldCounts {
  readonly notJudged: number;
  readonly wouldHaveDeclaredDead: number;
}

export interface PauseHold {
  /** A liveness tick's reading of the clocks (the first sets the baseline). */
  tick(reading: ClockReading, counts: () => HoldCounts): void;
  /** A reading when a heartbeat is read: a pause the timer has not seen yet begins the hold here. */
  check(reading: ClockReading, counts: () => HoldCounts): void;
  /** The hold in force at this moment, if any; the first call after it is over ends it and says so. */
  inForce(monotonicNowMs: number, workers: () => Iterable<WorkerRecord>): LivenessHold | undefined;
}

export function createPauseHold(options: {
  readonly logger: Logger;
  readonly heartbeatTimeoutMs: number;
  readonly tickIntervalMs: number;
  readonly toleranceMs: number;
}): PauseHold {
  const { logger, heartbeatTimeoutMs } = options;
  const watch = createPauseWatch(options);
  let hold: LivenessHold | undefined;

  const begin = (verdict: PauseVerdict, reading: ClockReading, counts: () => HoldCounts): void => {
    if (verdict.kind !== "paused") return;
    // Not ended yet (inForce ends it): this pause began while the last hold lasted.
    const wasHolding = hold !== undefined;
    const { notJudged, wouldHaveDeclaredDead } = counts();
    hold = holdAfterPause({
      pauseMs: verdict.pauseMs,
      monotonicNowMs: reading.monotonicMs,
      heartbeatTimeoutMs,
    });
    // The warn line already said why; the hold starts again.
    if (wasHolding) {
      logger.info(
        { reason: verdict.reason, pauseMs: verdict.pauseMs, detail: verdict.message },
        "coordinator clocks jumped again during the pause hold; the hold starts again",
      );
      return;
    }
    logger.warn(
      {
        reason: verdict.reason,
        pauseMs: verdict.pauseMs,
        workersNotJudged: notJudged,
        wouldHaveDeclaredDead,
        holdMs: heartbeatTimeoutMs,
        detail: verdict.message,
      },
      `coordinator paused for ${verdict.pauseMs} ms: ${notJudged} worker(s) not judged until heard from again (at most ${heartbeatTimeoutMs} ms)`,
    );
  };

  return {
    tick: (reading, counts) => begin(watch.tick(reading), reading, counts),
    check: (reading, counts) => begin(watch.check(reading), reading, counts),

    inForce(monotonicNowMs, workers) {
      if (hold === undefined || !isHoldOver(hold, monotonicNowMs)) return hold;
      const ended = hold;
      hold = undefined;
      let heardAgain = 0;
      let notHeard = 0;
      for (const worker of workers()) {
        if (worker.state === WorkerState.DEAD) continue;
        if (isHeardSince(worker, ended)) heardAgain += 1;
        else notHeard += 1;
      }
      // The ones not heard from are judged from now on, as any silent worker is.
      logger.info(
        { pauseMs: ended.pauseMs, heardAgain, notHeard },
        "liveness judgement resumed after the coordinator's pause",
      );
      return undefined;
    },
  };
}
