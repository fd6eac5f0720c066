import { describe, expect, it } from "vitest";
import { createProgress } from "./progress.js";

function stream(isTTY: boolean, columns?: number) {
  const written: string[] = [];
  return { isTTY, columns, written, write: (text: string) => written.push(text) };
}

describe("the progress line", () => {
  it("is rewritten in place on a terminal and taken away at the end", () => {
    const tty = stream(true, 80);
    const progress = createProgress(tty);
    progress.show("draining worker-1: 2 task(s) in flight");
    progress.show("draining worker-1: 1 task(s) in flight");
    progress.clear();
    expect(tty.written).toEqual([
      "\r\u001b[Kdraining worker-1: 2 task(s) in flight",
      "\r\u001b[Kdraining worker-1: 1 task(s) in flight",
      "\r\u001b[K",
    ]);
  });

  it("is cut to one character short of the terminal's width, so it never wraps", () => {
    const tty = stream(true, 11);
    createProgress(tty).show("0123456789abcdef");
    expect(tty.written).toEqual(["\r\u001b[K0123456789"]);
  });

  it("writes nothing when nothing was shown", () => {
    const tty = stream(true);
    createProgress(tty).clear();
    expect(tty.written).toEqual([]);
  });

  it("stays quiet when stderr is not a terminal", () => {
    const pipe = stream(false);
    const progress = createProgress(pipe);
    progress.show("purging: 10 final task(s) removed");
    progress.clear();
    expect(pipe.written).toEqual([]);
  });
});
