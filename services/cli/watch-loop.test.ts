import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import type { Reading } from "./reading.js";
import { watchLoop } from "./watch-loop.js";
import type { WatchFrame } from "./watch-screen.js";

const reading = (table: string): Reading => ({ document: { table }, table });

/** A loop over scripted answers that stops itself after `frames` draws; returns what it drew. */
async function run(answers: (() => Promise<Reading>)[], frames: number): Promise<WatchFrame[]> {
  const stop = new AbortController();
  const drawn: WatchFrame[] = [];
  let clockMs = 0;
  let call = 0;
  await watchLoop({
    read: () => {
      const answer = answers[Math.min(call, answers.length - 1)] as () => Promise<Reading>;
      call += 1;
      return answer();
    },
    draw: (frame) => {
      drawn.push(frame);
      if (drawn.length === frames) stop.abort();
    },
    intervalMs: 2000,
    signal: stop.signal,
    now: () => clockMs,
    wait: async () => {
      clockMs += 2000;
    },
  });
  return drawn;
}

const lost = () => Promise.reject(new ConnectError("no connection", Code.Unavailable));

describe("the watch loop", () => {
  it("draws a reading per interval until stopped", async () => {
    const drawn = await run([async () => reading("a"), async () => reading("b")], 3);
    expect(drawn.map((f) => (f.kind === "reading" ? f.reading.table : f.kind))).toEqual([
      "a",
      "b",
      "b",
    ]);
    expect(drawn.map((f) => f.atMs)).toEqual([0, 2000, 4000]);
  });

  it("draws a lost coordinator with the last reading, and goes on when it is back", async () => {
    const drawn = await run([async () => reading("a"), lost, async () => reading("c")], 3);
    expect(drawn[1]).toMatchObject({
      kind: "lost",
      error: { code: Code.Unavailable },
      last: { reading: { table: "a" }, atMs: 0 },
    });
    expect(drawn[2]).toMatchObject({ kind: "reading", reading: { table: "c" } });
  });

  it("draws a coordinator lost from the start without a last reading", async () => {
    const drawn = await run([lost], 2);
    expect(drawn.map((f) => f.kind)).toEqual(["lost", "lost"]);
    expect(drawn[0]).toMatchObject({ last: undefined });
  });

  it("ends with an answer retrying cannot change", async () => {
    const refused = () =>
      Promise.reject(new ConnectError("needs the viewer role", Code.PermissionDenied));
    await expect(run([refused], 5)).rejects.toThrow("needs the viewer role");
  });

  it("ends with a bug of ours rather than calling it a lost coordinator", async () => {
    const broken = () => Promise.reject(new TypeError("x is undefined"));
    await expect(run([broken], 5)).rejects.toThrow(TypeError);
  });

  it("ends at once, drawing nothing, when stopped during a reading", async () => {
    const stop = new AbortController();
    const drawn: WatchFrame[] = [];
    await watchLoop({
      read: (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () =>
            reject(new ConnectError("cancelled", Code.Canceled)),
          );
          stop.abort();
        }),
      draw: (frame) => drawn.push(frame),
      intervalMs: 2000,
      signal: stop.signal,
    });
    expect(drawn).toEqual([]);
  });

  it("does not draw a reading that came back after Ctrl-C", async () => {
    const stop = new AbortController();
    const drawn: WatchFrame[] = [];
    await watchLoop({
      read: async () => {
        stop.abort();
        return reading("late");
      },
      draw: (frame) => drawn.push(frame),
      intervalMs: 2000,
      signal: stop.signal,
    });
    expect(drawn).toEqual([]);
  });
});
