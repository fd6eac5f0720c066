// One followed URI: the scheme's watcher underneath, the last good set of
// endpoints on top. Subscribers hear of changes only (not of identical
// answers), and a failed lookup keeps the last good set in use while it is
// reported, the way grpc-js keeps its addresses when a DNS query fails.
import { parseEndpointUri, type DiscoveryTarget } from "./endpoint-uri.js";
import {
  sameEndpoints,
  type DiscoveredEndpoint,
  type EndpointSource,
  type WatchOptions,
} from "./endpoint-watch.js";
import type { EndpointSink } from "./endpoint-watch.js";

export interface EndpointResolver {
  readonly uri: string;
  /** The latest good set, ordered with the preferred endpoints first; empty before the first answer. */
  current(): readonly DiscoveredEndpoint[];
  /** Whether the scheme has answered at least once (an empty answer counts). */
  readonly hasAnswered: boolean;
  /** Why the latest attempt failed, if it did; cleared by the next good answer. */
  lastError(): string | undefined;
  /** Resolves with the first answer, or rejects after timeoutMs naming the URI and the last error. */
  firstAnswer(timeoutMs: number): Promise<readonly DiscoveredEndpoint[]>;
  /** Calls listener on every change of the set and every new failure; returns the unsubscribe. */
  subscribe(listener: (change: ResolverChange) => void): () => void;
  refresh(): void;
  close(): Promise<void>;
}

export type ResolverChange =
  | { readonly kind: "endpoints"; readonly endpoints: readonly DiscoveredEndpoint[] }
  | { readonly kind: "failure"; readonly error: string };

/** Starts following a discovery URI. Throws only for a URI that does not parse (check it with parseEndpointUri first). */
export function createEndpointResolver(uri: string, options: WatchOptions = {}): EndpointResolver {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok) throw new Error(parsed.error);
  let endpoints: readonly DiscoveredEndpoint[] = [];
  let hasAnswered = false;
  let error: string | undefined;
  let isClosed = false;
  const listeners = new Set<(change: ResolverChange) => void>();
  const notify = (change: ResolverChange) => {
    for (const listener of [...listeners]) listener(change);
  };

  // The scheme's module (and its client library: the Kubernetes client alone
  // takes 0.4 s to load) is loaded only by processes that use the scheme.
  const source: Promise<EndpointSource | undefined> = startWatch(
    parsed,
    {
      publish: (next) => {
        if (isClosed) return;
        error = undefined;
        const isChange = !hasAnswered || !sameEndpoints(endpoints, next);
        hasAnswered = true;
        endpoints = [...next];
        if (isChange) {
          options.logger?.info(
            { uri, endpoints: endpoints.map((e) => e.address) },
            "discovered endpoints changed",
          );
          notify({ kind: "endpoints", endpoints });
        }
      },
      fail: (message) => {
        if (isClosed) return;
        if (message !== error)
          options.logger?.warn(
            { uri, error: message },
            "discovery lookup failed; keeping the last endpoints",
          );
        error = message;
        notify({ kind: "failure", error: message });
      },
    },
    options,
  ).catch((cause: unknown) => {
    const message = `${uri}: cannot start watching: ${cause instanceof Error ? cause.message : String(cause)}`;
    error = message;
    options.logger?.error({ uri, err: message }, "discovery failed to start");
    notify({ kind: "failure", error: message });
    return undefined;
  });

  return {
    uri,
    current: () => endpoints,
    get hasAnswered() {
      return hasAnswered;
    },
    lastError: () => error,
    firstAnswer: (timeoutMs) =>
      hasAnswered
        ? Promise.resolve(endpoints)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
              unsubscribe();
              reject(
                new Error(`${uri}: no answer within ${timeoutMs} ms${error ? `: ${error}` : ""}`),
              );
            }, timeoutMs);
            const unsubscribe = subscribeTo((change) => {
              if (change.kind !== "endpoints") return;
              clearTimeout(timer);
              unsubscribe();
              resolve(change.endpoints);
            });
          }),
    subscribe: (listener) => subscribeTo(listener),
    refresh: () => void source.then((s) => s?.refresh()),
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      listeners.clear();
      await (await source)?.close();
    },
  };

  function subscribeTo(listener: (change: ResolverChange) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }
}

async function startWatch(
  target: DiscoveryTarget,
  sink: EndpointSink,
  options: WatchOptions,
): Promise<EndpointSource> {
  switch (target.scheme) {
    case "static":
      return (await import("./static-source.js")).watchStatic(target, sink, options);
    case "dns+srv":
      return (await import("./dns-srv.js")).watchDnsSrv(target, sink, options);
    case "consul":
      return (await import("./consul.js")).watchConsul(target, sink, options);
    case "etcd":
      return (await import("./etcd.js")).watchEtcd(target, sink, options);
    case "k8s":
      return (await import("./k8s.js")).watchK8s(target, sink, options);
    default: {
      const unreachable: never = target;
      throw new Error(`unhandled discovery scheme ${JSON.stringify(unreachable)}`);
    }
  }
}
