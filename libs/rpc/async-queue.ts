// An unbounded single-consumer queue read as an AsyncIterable: how a service
// pushes messages down a stream from outside the generator that writes it.
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(item: T): void;
  /** Ends the iteration once the buffered items are read. */
  close(): void;
  readonly size: number;
  readonly isClosed: boolean;
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(item) {
      if (closed) return;
      items.push(item);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    get size() {
      return items.length;
    },
    get isClosed() {
      return closed;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length > 0) yield items.shift() as T;
        if (closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
