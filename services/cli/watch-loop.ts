// --watch: read, draw, wait, until Ctrl-C. A lost coordinator is drawn and
// read again at the next tick; an answer retrying cannot change (a refused
// role, a bad filter) ends the loop with that error.
import { setTimeout as sleep } from "node:timers/promises";
import { toConnectError } from "../../libs/rpc/index.js";
import { isCoordinatorLost } from "./coordinator-loss.js";
import type { Reading } from "./reading.js";
import type { WatchFrame } from "./watch-screen.js";

export interface WatchLoopOptions {
  /** One reading; the signal cancels a call in flight when the watch ends. */
  readonly read: (signal: AbortSignal) => Promise<Reading>;
  readonly draw: (frame: WatchFrame) => void;
  readonly intervalMs: number;
  /** Aborted by Ctrl-C: the loop then ends normally. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
  readonly wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const waitOrAbort = async (ms: number, signal: AbortSignal): Promise<void> => {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
};

/** Resolves when `signal` aborts; rejects with a failure that is not a lost coordinator. */
export async function watchLoop(options: WatchLoopOptions): Promise<void> {
  const { signal } = options;
  const now = options.now ?? Date.now;
  const wait = options.wait ?? waitOrAbort;
  let last: { reading: Reading; atMs: number } | undefined;
  while (!signal.aborted) {
    const atMs = now();
    let frame: WatchFrame;
    try {
      const reading = await options.read(signal);
      // A reading that finished as Ctrl-C came (a call inside it gave up quietly) is not drawn.
      if (signal.aborted) return;
      last = { reading, atMs };
      frame = { kind: "reading", reading, atMs };
    } catch (error) {
      if (signal.aborted) return;
      if (!isCoordinatorLost(error)) throw error;
      frame = { kind: "lost", error: toConnectError(error), atMs, last };
    }
    options.draw(frame);
    await wait(options.intervalMs, signal);
  }
}
