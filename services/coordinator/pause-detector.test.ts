import { describe, expect, it } from "vitest";
import {
  createPauseWatch,
  detectPause,
  pauseToleranceMs,
  type ClockReading,
  type PauseVerdict,
} from "./pause-detector.js";

const TICK_MS = 250;
const TOLERANCE_MS = 1500;
/** The two clocks have unrelated origins, as Date.now() and performance.now() do. */
const BEFORE: ClockReading = { wallMs: 1_800_000_000_000, monotonicMs: 42_000 };

function after(wallDeltaMs: number, monotonicDeltaMs: number): ClockReading {
  return {
    wallMs: BEFORE.wallMs + wallDeltaMs,
    monotonicMs: BEFORE.monotonicMs + monotonicDeltaMs,
  };
}

function shown(verdict: PauseVerdict): string {
  return verdict.kind === "steady" ? "steady" : `${verdict.reason} ${verdict.pauseMs} ms`;
}

describe("detectPause", () => {
  const cases: { name: string; current: ClockReading; expected: string }[] = [
    { name: "a tick on time is steady", current: after(250, 250), expected: "steady" },
    {
      name: "a tick late by up to the tolerance is ordinary lag",
      current: after(1750, 1750),
      expected: "steady",
    },
    {
      name: "a tick 10 s late is a stalled event loop (SIGSTOP, then SIGCONT)",
      current: after(10_250, 10_250),
      expected: "EventLoopStalled 10000 ms",
    },
    {
      name: "a tick just past the tolerance is a stall",
      current: after(1751, 1751),
      expected: "EventLoopStalled 1501 ms",
    },
    {
      name: "a wall clock stepped an hour ahead is a jump, though the loop kept time",
      current: after(3_600_250, 250),
      expected: "WallClockJumped 3600000 ms",
    },
    {
      name: "a wall clock stepped back is a jump too",
      current: after(250 - 60_000, 250),
      expected: "WallClockJumped 60000 ms",
    },
    {
      name: "a suspended machine: the monotonic clock stood still while the wall clock went on",
      current: after(30_250, 250),
      expected: "WallClockJumped 30000 ms",
    },
    {
      name: "a wall clock slewed by a few milliseconds is steady",
      current: after(253, 250),
      expected: "steady",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(
        shown(
          detectPause({
            previous: BEFORE,
            current: c.current,
            tickIntervalMs: TICK_MS,
            toleranceMs: TOLERANCE_MS,
          }),
        ),
      ).toBe(c.expected);
    });
  }

  it("says what it saw", () => {
    const verdict = detectPause({
      previous: BEFORE,
      current: after(10_250, 10_250),
      tickIntervalMs: TICK_MS,
      toleranceMs: TOLERANCE_MS,
    });
    expect(verdict.kind === "paused" && verdict.message).toBe(
      "two readings 10250 ms apart on the monotonic clock, 10250 ms on the wall clock (tick interval 250 ms)",
    );
  });
});

describe("createPauseWatch", () => {
  const watch = () => createPauseWatch({ tickIntervalMs: TICK_MS, toleranceMs: TOLERANCE_MS });

  it("checks each tick against the one before it, the first against nothing", () => {
    const ticks = watch();
    const readings = [after(0, 0), after(250, 250), after(10_500, 10_500), after(10_750, 10_750)];
    expect(readings.map((r) => shown(ticks.tick(r)))).toEqual([
      "steady",
      "steady",
      "EventLoopStalled 10000 ms",
      "steady",
    ]);
  });

  it("lets a heartbeat read before the timer see the pause, and the timer then not again", () => {
    const w = watch();
    w.tick(after(0, 0));
    expect(shown(w.check(after(10_250, 10_250)))).toBe("EventLoopStalled 10000 ms");
    expect(shown(w.tick(after(10_260, 10_260)))).toBe("steady");
  });

  it("checks nothing before the ticks begin (a coordinator not started, a test driving the clock)", () => {
    const w = watch();
    expect(shown(w.check(after(0, 0)))).toBe("steady");
    expect(shown(w.check(after(60_000, 60_000)))).toBe("steady");
  });
});

describe("pauseToleranceMs", () => {
  it("is half the heartbeat timeout, and at least one heartbeat interval", () => {
    expect(pauseToleranceMs({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3000 })).toBe(1500);
    expect(pauseToleranceMs({ heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 })).toBe(500);
    expect(pauseToleranceMs({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1500 })).toBe(1000);
  });
});
