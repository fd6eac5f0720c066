// A grpc-js readable call as an AsyncIterable that also ends when the call is
// cancelled or `signal` aborts, so a handler awaiting the next message never
// hangs on a peer that vanished.
import type { Readable } from "node:stream";

export function readMessages<T>(stream: Readable, signal: AbortSignal): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const buffered: T[] = [];
      let waiting: ((result: IteratorResult<T>) => void) | undefined;
      let failWaiting: ((error: unknown) => void) | undefined;
      let done = false;
      let failure: unknown;
      const wake = (): void => {
        if (!waiting) return;
        const resolve = waiting;
        const reject = failWaiting;
        waiting = failWaiting = undefined;
        if (buffered.length > 0) resolve({ value: buffered.shift() as T, done: false });
        else if (failure !== undefined && reject) reject(failure);
        else if (done) resolve({ value: undefined, done: true });
      };
      const finish = (): void => {
        done = true;
        cleanup();
        wake();
      };
      const onData = (message: T): void => {
        buffered.push(message);
        if (buffered.length > 64) stream.pause();
        wake();
      };
      const onError = (error: unknown): void => {
        failure = error;
        finish();
      };
      const cleanup = (): void => {
        stream.off("data", onData);
        stream.off("end", finish);
        stream.off("error", onError);
        signal.removeEventListener("abort", finish);
      };
      stream.on("data", onData);
      stream.on("end", finish);
      stream.on("error", onError);
      if (signal.aborted) finish();
      else signal.addEventListener("abort", finish, { once: true });
      return {
        next(): Promise<IteratorResult<T>> {
          if (buffered.length > 0) {
            const value = buffered.shift() as T;
            if (buffered.length < 16 && stream.isPaused()) stream.resume();
            return Promise.resolve({ value, done: false });
          }
          if (failure !== undefined) return Promise.reject(failure);
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => {
            waiting = resolve;
            failWaiting = reject;
            if (stream.isPaused()) stream.resume();
          });
        },
        return(): Promise<IteratorResult<T>> {
          finish();
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}

/** Writes to a grpc-js writable, waiting for 'drain' when its buffer is full. */
export async function writeWithBackpressure(
  stream: {
    write(chunk: unknown): boolean;
    once(event: "drain" | "close", listener: () => void): unknown;
    removeListener?(event: "drain" | "close", listener: () => void): unknown;
  },
  message: unknown,
): Promise<void> {
  if (stream.write(message)) return;
  await drained(stream);
}

/**
 * Resolves on the stream's next 'drain' or 'close', and takes the other
 * listener off again: a long-lived stream that waits often (a session, a
 * placement stream) must not collect one stale 'close' listener per wait.
 */
export function drained(stream: {
  once(event: "drain" | "close", listener: () => void): unknown;
  removeListener?(event: "drain" | "close", listener: () => void): unknown;
}): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.removeListener?.("drain", done);
      stream.removeListener?.("close", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
  });
}
