import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { writeWithBackpressure } from "./message-queue.js";

/** A writable whose buffer is always full until it drains. */
function fullStream() {
  const events = new EventEmitter();
  return Object.assign(events, { write: () => false });
}

describe("writing with backpressure", () => {
  it("waits for drain, and leaves no listener behind however often it waits", async () => {
    const stream = fullStream();
    for (let i = 0; i < 50; i += 1) {
      const written = writeWithBackpressure(stream, { i });
      stream.emit("drain");
      await written;
    }
    expect(stream.listenerCount("close")).toBe(0);
    expect(stream.listenerCount("drain")).toBe(0);
  });

  it("stops waiting when the stream closes", async () => {
    const stream = fullStream();
    const written = writeWithBackpressure(stream, {});
    stream.emit("close");
    await written;
    expect(stream.listenerCount("drain")).toBe(0);
  });
});
