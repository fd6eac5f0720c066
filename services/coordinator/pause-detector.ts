// Has the coordinator itself been away? From two readings of its own clocks
// one liveness tick apart: a gap far beyond the tick interval means its event
// loop stood still (SIGSTOP, a long GC, a suspended VM); a wall clock that
// moved differently from the monotonic clock was stepped. Either way, the
// heartbeat silence it sees next is partly its own, not its workers'.

export interface ClockReading {
  readonly wallMs: number;
  /** From a clock that only moves forward (performance.now()); its origin means nothing. */
  readonly monotonicMs: number;
}

export const PAUSE_REASONS = {
  eventLoopStalled: "EventLoopStalled",
  wallClockJumped: "WallClockJumped",
} as const;

export type PauseReason = (typeof PAUSE_REASONS)[keyof typeof PAUSE_REASONS];

export type PauseVerdict =
  | { readonly kind: "steady" }
  | {
      readonly kind: "paused";
      readonly reason: PauseReason;
      /** How long the coordinator was away (or how far its wall clock jumped, either way). */
      readonly pauseMs: number;
      readonly message: string;
    };

export interface PauseCheck {
  readonly previous: ClockReading;
  readonly current: ClockReading;
  readonly tickIntervalMs: number;
  /** A gap or a jump up to this long is ordinary lateness, not a pause. */
  readonly toleranceMs: number;
}

export function detectPause({
  previous,
  current,
  tickIntervalMs,
  toleranceMs,
}: PauseCheck): PauseVerdict {
  const gapMs = current.monotonicMs - previous.monotonicMs;
  const wallGapMs = current.wallMs - previous.wallMs;
  const lateMs = gapMs - tickIntervalMs;
  const readings = `${Math.round(gapMs)} ms apart on the monotonic clock, ${wallGapMs} ms on the wall clock (tick interval ${tickIntervalMs} ms)`;
  if (lateMs > toleranceMs)
    return {
      kind: "paused",
      reason: PAUSE_REASONS.eventLoopStalled,
      pauseMs: Math.round(lateMs),
      message: `two readings ${readings}`,
    };
  const jumpMs = wallGapMs - gapMs;
  if (Math.abs(jumpMs) > toleranceMs)
    return {
      kind: "paused",
      reason: PAUSE_REASONS.wallClockJumped,
      pauseMs: Math.round(Math.abs(jumpMs)),
      message: `the wall clock jumped ${Math.round(jumpMs)} ms: two readings ${readings}`,
    };
  return { kind: "steady" };
}

/**
 * "Far beyond the interval": half the heartbeat timeout, and at least one
 * heartbeat interval. A shorter stall costs a worker less than half its
 * timeout, which it keeps; ordinary event-loop lag under load stays below it.
 */
export function pauseToleranceMs(settings: {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
}): number {
  return Math.max(settings.heartbeatIntervalMs, settings.heartbeatTimeoutMs / 2);
}

/**
 * Remembers the last reading, so each is checked against the one before it.
 * The liveness timer's ticks set the pace (the first only sets the
 * baseline); a reading at any other moment (a heartbeat read) is checked the
 * same way once ticks have begun, so whichever runs first after a pause, the
 * timer or a socket read, sees the jump, and only that one.
 */
export interface PauseWatch {
  tick(reading: ClockReading): PauseVerdict;
  check(reading: ClockReading): PauseVerdict;
}

export function createPauseWatch(options: {
  readonly tickIntervalMs: number;
  readonly toleranceMs: number;
}): PauseWatch {
  let previous: ClockReading | undefined;
  const check = (current: ClockReading): PauseVerdict => {
    if (previous === undefined) return { kind: "steady" };
    const verdict = detectPause({ previous, current, ...options });
    previous = current;
    return verdict;
  };
  return {
    tick(current) {
      if (previous === undefined) previous = current;
      return check(current);
    },
    check,
  };
}
