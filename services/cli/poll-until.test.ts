import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import { pollUntil, waitFailure, type PollVerdict } from "./poll-until.js";

/** A poll over scripted readings with a fake clock; returns the outcome and the progress lines. */
async function run(
  readings: (() => Promise<number>)[],
  verdict: (n: number) => PollVerdict,
  timeoutMs = 10_000,
) {
  const shown: string[] = [];
  let cleared = 0;
  let clockMs = 0;
  let call = 0;
  const outcome = await pollUntil({
    read: () => {
      const next = readings[Math.min(call, readings.length - 1)] as () => Promise<number>;
      call += 1;
      return next();
    },
    verdict,
    timeoutMs,
    pollMs: 500,
    progress: { show: (text) => shown.push(text), clear: () => (cleared += 1) },
    now: () => clockMs,
    wait: async (ms) => {
      clockMs += ms;
    },
  });
  return { outcome, shown, cleared };
}

const countDown = (n: number): PollVerdict =>
  n === 0 ? { kind: "done" } : { kind: "waiting", progress: `${n} left` };

describe("polling until an operation is done", () => {
  it("shows each reading until done, then takes the progress away", async () => {
    const { outcome, shown, cleared } = await run(
      [async () => 2, async () => 1, async () => 0],
      countDown,
    );
    expect(outcome).toEqual({ kind: "done", last: 0 });
    expect(shown).toEqual(["2 left (waited 0 s of 10)", "1 left (waited 0 s of 10)"]);
    expect(cleared).toBe(1);
  });

  it("times out with the last reading", async () => {
    const { outcome, shown } = await run([async () => 3], countDown, 1_200);
    expect(outcome).toEqual({ kind: "timed_out", last: 3 });
    // At 0, 500 and 1000 ms; the reading at 1200 ms is past the time.
    expect(shown).toHaveLength(3);
  });

  it("stops when the reading says it will not be done", async () => {
    const { outcome } = await run([async () => -1], (n) =>
      n < 0 ? { kind: "abandoned", problem: "it went away" } : countDown(n),
    );
    expect(outcome).toEqual({ kind: "abandoned", last: -1, problem: "it went away" });
  });

  it("says the coordinator is lost and tries again within the same time", async () => {
    const lost = () => Promise.reject(new ConnectError("no connection", Code.Unavailable));
    const { outcome, shown } = await run([async () => 1, lost, async () => 0], countDown);
    expect(outcome).toEqual({ kind: "done", last: 0 });
    expect(shown[1]).toBe(
      "lost the coordinator: no connection (UNAVAILABLE); trying again (waited 0 s of 10)",
    );
  });

  it("ends with an answer retrying cannot change, and still takes the progress away", async () => {
    const refused = () => Promise.reject(new ConnectError("no such worker", Code.NotFound));
    const shown: string[] = [];
    let cleared = 0;
    await expect(
      pollUntil({
        read: refused,
        verdict: countDown,
        timeoutMs: 1000,
        pollMs: 500,
        progress: { show: (text) => shown.push(text), clear: () => (cleared += 1) },
      }),
    ).rejects.toThrow("no such worker");
    expect(cleared).toBe(1);
  });

  it("turns a wait that did not end in done into the command's error", () => {
    expect(waitFailure({ kind: "timed_out", last: 1 }, "not within 5 s")).toMatchObject({
      code: Code.DeadlineExceeded,
      rawMessage: "not within 5 s",
    });
    expect(
      waitFailure({ kind: "abandoned", last: 1, problem: "replaced" }, "not within 5 s"),
    ).toMatchObject({ code: Code.Aborted, rawMessage: "replaced" });
  });
});
