// The contract between a discovery scheme and everyone who follows its
// answers. A scheme's watcher publishes the whole current set of endpoints
// each time it learns something (or reports a failure); an EndpointResolver
// keeps the last good set, tells subscribers only when the set changed, and
// closes the watcher when nobody needs it any more.
import type { Logger } from "pino";

export interface DiscoveredEndpoint {
  /** host:port to connect to. */
  readonly address: string;
  /** Lower is preferred (DNS SRV priority); 0 when the scheme has none. */
  readonly priority: number;
  /** Relative share among endpoints of one priority (DNS SRV weight); 1 when the scheme has none. */
  readonly weight: number;
  /** The instance's id in the registry, when it has one (Consul service ID, etcd key, pod name). */
  readonly id?: string;
  readonly region?: string;
  readonly zone?: string;
}

/** What a scheme's watcher reports to. */
export interface EndpointSink {
  /** The complete current set (not a delta); an empty set means the registry lists none. */
  publish(endpoints: readonly DiscoveredEndpoint[]): void;
  /** The latest attempt failed; the last good set stays in use. */
  fail(error: string): void;
}

/** A running watcher of one scheme, made by its watch function. */
export interface EndpointSource {
  /** Ask again soon (a connection failed, say). Watchers that are pushed changes may ignore it. */
  refresh(): void;
  /** Stops every timer, request and stream; nothing is published afterwards. */
  close(): Promise<void>;
}

export interface WatchOptions {
  readonly logger?: Logger;
  /** Injected for tests; weighted orders (RFC 2782) draw from it. */
  readonly random?: () => number;
}

export type WatchFunction<T> = (
  target: T,
  sink: EndpointSink,
  options: WatchOptions,
) => EndpointSource;

export function sameEndpoints(
  a: readonly DiscoveredEndpoint[],
  b: readonly DiscoveredEndpoint[],
): boolean {
  if (a.length !== b.length) return false;
  const key = (e: DiscoveredEndpoint) =>
    `${e.address}|${e.priority}|${e.weight}|${e.id ?? ""}|${e.region ?? ""}|${e.zone ?? ""}`;
  const keys = new Set(a.map(key));
  return b.every((e) => keys.has(key(e)));
}
