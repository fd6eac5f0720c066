// An EndpointSink for tests of watchers: it keeps every publish and failure,
// in order, and lets a test await a condition on them. A wait is woken by the
// sink's own calls rather than by polling, and is bounded: past its deadline
// it fails naming what it waited for and what the sink last saw.
import type { DiscoveredEndpoint, EndpointSink } from "../../libs/discovery/endpoint-watch.js";

export const DEFAULT_WAIT_MS = 15_000;

export type SinkEvent =
  | { readonly kind: "publish"; readonly endpoints: readonly DiscoveredEndpoint[] }
  | { readonly kind: "fail"; readonly error: string };

export interface RecordingSink extends EndpointSink {
  /** Every call, in order. */
  readonly events: readonly SinkEvent[];
  /** Each published set, copied when it was published. */
  readonly published: readonly (readonly DiscoveredEndpoint[])[];
  readonly failures: readonly string[];
  /** The last published set; empty before the first publish (published.length tells the two apart). */
  latest(): readonly DiscoveredEndpoint[];
  /**
   * Resolves with check()'s answer once it is neither undefined nor false,
   * checking now and after each call to the sink; rejects after timeoutMs.
   */
  waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** Resolves with the latest published set once it satisfies `predicate`. */
  waitForLatest(
    what: string,
    predicate: (endpoints: readonly DiscoveredEndpoint[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly DiscoveredEndpoint[]>;
}

export function createRecordingSink(): RecordingSink {
  const events: SinkEvent[] = [];
  const published: (readonly DiscoveredEndpoint[])[] = [];
  const failures: string[] = [];
  const wakers = new Set<() => void>();
  const record = (event: SinkEvent) => {
    events.push(event);
    if (event.kind === "publish") published.push(event.endpoints);
    else failures.push(event.error);
    for (const wake of [...wakers]) wake();
  };
  const latest = () => published.at(-1) ?? [];

  const waitFor = <T>(
    what: string,
    check: () => T | undefined | false,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const wake = () => {
        const found = check();
        if (found === undefined || found === false) return;
        clearTimeout(timer);
        wakers.delete(wake);
        resolve(found);
      };
      const timer = setTimeout(() => {
        wakers.delete(wake);
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; the sink last saw ${JSON.stringify(events.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      wakers.add(wake);
      wake();
    });

  return {
    events,
    published,
    failures,
    latest,
    waitFor,
    waitForLatest: (what, predicate, timeoutMs) =>
      waitFor(what, () => published.length > 0 && predicate(latest()) && latest(), timeoutMs),
    // A copy: a watcher that reused its array must not rewrite what was recorded.
    publish: (endpoints) => record({ kind: "publish", endpoints: [...endpoints] }),
    fail: (error) => record({ kind: "fail", error }),
  };
}
