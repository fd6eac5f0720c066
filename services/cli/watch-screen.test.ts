import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import type { Reading } from "./reading.js";
import {
  createWatchScreen,
  frameJsonLine,
  frameLines,
  redrawInPlace,
  type WatchFrame,
} from "./watch-screen.js";

const AT_MS = Date.parse("2026-12-07T23:01:05Z");
const reading = (table: string, document: Reading["document"] = { n: 1 }): Reading => ({
  document,
  table,
});
const readingFrame = (table: string): WatchFrame => ({
  kind: "reading",
  reading: reading(table),
  atMs: AT_MS,
});
const lostFrame = (last?: Reading): WatchFrame => ({
  kind: "lost",
  error: new ConnectError("127.0.0.1:7070: No connection established", Code.Unavailable),
  atMs: AT_MS + 2000,
  last: last && { reading: last, atMs: AT_MS },
});
const options = {
  format: "table" as const,
  title: "scalemesh status",
  coordinator: "static://127.0.0.1:7070",
  intervalSec: 2,
};

function stream(isTTY: boolean, size: { rows?: number; columns?: number } = {}) {
  const written: string[] = [];
  return { isTTY, ...size, written, write: (text: string) => written.push(text) };
}

describe("a watched frame", () => {
  it("starts with what is watched, how often and when", () => {
    expect(frameLines(readingFrame("workers 2 alive"), { ...options, isTty: false })).toEqual([
      "scalemesh status every 2 s, at 23:01:05",
      "",
      "workers 2 alive",
    ]);
    expect(frameLines(readingFrame("x"), { ...options, isTty: true })[0]).toBe(
      "scalemesh status every 2 s, at 23:01:05 (Ctrl-C ends)",
    );
  });

  it("says the coordinator is lost, that it tries again, and keeps the last reading", () => {
    expect(frameLines(lostFrame(reading("workers 2 alive")), { ...options, isTty: false })).toEqual(
      [
        "scalemesh status every 2 s, at 23:01:07",
        "",
        "lost the coordinator at static://127.0.0.1:7070: 127.0.0.1:7070: No connection established (UNAVAILABLE); trying again every 2 s",
        "",
        "the last reading, from 23:01:05:",
        "workers 2 alive",
      ],
    );
    expect(frameLines(lostFrame(), { ...options, isTty: false })).toHaveLength(3);
  });

  it("is one JSON object per line: the document, or an error object", () => {
    expect(frameJsonLine(readingFrame("x"), options.coordinator)).toBe('{"n":1}');
    expect(JSON.parse(frameJsonLine(lostFrame(), options.coordinator))).toEqual({
      error: {
        code: "UNAVAILABLE",
        message: "127.0.0.1:7070: No connection established",
        coordinator: "static://127.0.0.1:7070",
        at: "2026-12-07T23:01:07.000Z",
      },
    });
  });
});

describe("redrawing in place", () => {
  it("clears the screen once, then goes home and clears each line and what is below", () => {
    expect(redrawInPlace(["a", "b"], { isFirst: true })).toBe(
      "\u001b[2J\u001b[Ha\u001b[K\nb\u001b[K\n\u001b[J",
    );
    expect(redrawInPlace(["a"], { isFirst: false })).toBe("\u001b[Ha\u001b[K\n\u001b[J");
  });

  it("cuts a frame taller than the window so the redraw never scrolls, and says how much is hidden", () => {
    const drawn = redrawInPlace(["1", "2", "3", "4", "5"], { isFirst: false, rows: 4 });
    expect(drawn).toBe("\u001b[H1\u001b[K\n2\u001b[K\n… 3 more line(s)\u001b[K\n\u001b[J");
  });

  it("cuts lines wider than the window", () => {
    expect(redrawInPlace(["abcdef"], { isFirst: false, columns: 3 })).toBe(
      "\u001b[Habc\u001b[K\n\u001b[J",
    );
  });
});

describe("the watch screen", () => {
  it("redraws in place on a terminal", () => {
    const tty = stream(true, { rows: 24, columns: 80 });
    const screen = createWatchScreen(tty, options);
    screen.draw(readingFrame("one"));
    screen.draw(readingFrame("two"));
    expect(tty.written).toHaveLength(2);
    expect(tty.written[0]).toMatch(/^\u001b\[2J\u001b\[H/);
    expect(tty.written[1]).toMatch(/^\u001b\[H.*two\u001b\[K\n\u001b\[J$/s);
  });

  it("writes a plain block per refresh, without escape sequences, elsewhere", () => {
    const pipe = stream(false);
    const screen = createWatchScreen(pipe, options);
    screen.draw(readingFrame("one"));
    screen.draw(readingFrame("two"));
    expect(pipe.written.join("")).toBe(
      "scalemesh status every 2 s, at 23:01:05\n\none\n\nscalemesh status every 2 s, at 23:01:05\n\ntwo\n",
    );
  });

  it("writes JSON lines, without escape sequences, on a terminal too", () => {
    const tty = stream(true, { rows: 24 });
    const screen = createWatchScreen(tty, { ...options, format: "json" });
    screen.draw(readingFrame("one"));
    screen.draw(lostFrame());
    expect(tty.written.join("").split("\n")).toHaveLength(3);
    expect(tty.written.join("")).not.toContain("\u001b");
  });
});
