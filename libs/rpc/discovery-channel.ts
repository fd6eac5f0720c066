// grpc-js channels that follow a discovery URI. grpc-js lets a program add
// name resolvers for its own schemes; ours hands the channel whatever
// libs/discovery currently knows, so endpoints that appear or disappear reach
// the channel's load-balancing policy without a restart, exactly as grpc-js's
// own dns: resolver would (which cannot read SRV records, Consul or etcd).
//
// A discovery URI is followed once per process however many channels use it:
// the resolvers are shared and counted, and the last release closes the watch.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  createEndpointResolver,
  type DiscoveredEndpoint,
  type EndpointResolver,
} from "../discovery/index.js";

const SCHEME = "scalemesh-discovery";

export type LoadBalancing = "pick_first" | "round_robin";

interface Followed {
  readonly resolver: EndpointResolver;
  users: number;
}

const followed = new Map<string, Followed>();

export interface DiscoveryTarget {
  /** The target string to give grpc-js. */
  readonly grpcTarget: string;
  readonly resolver: EndpointResolver;
  /** Stops following the URI when no other channel uses it. */
  release(): void;
}

/**
 * Follows `uri` (shared with every other channel of this process that does)
 * and returns the grpc-js target that reads from it. `resolver` lets tests
 * supply their own set of endpoints.
 */
export function followDiscoveryUri(
  uri: string,
  options: { logger?: Logger; resolver?: EndpointResolver } = {},
): DiscoveryTarget {
  registerOnce();
  let entry = followed.get(uri);
  if (entry === undefined) {
    entry = {
      resolver:
        options.resolver ??
        createEndpointResolver(uri, options.logger ? { logger: options.logger } : {}),
      users: 0,
    };
    followed.set(uri, entry);
  }
  entry.users += 1;
  const current = entry;
  let isReleased = false;
  return {
    grpcTarget: `${SCHEME}:///${encodeURIComponent(uri)}`,
    resolver: current.resolver,
    release: () => {
      if (isReleased) return;
      isReleased = true;
      current.users -= 1;
      if (current.users === 0 && followed.get(uri) === current) {
        followed.delete(uri);
        void current.resolver.close();
      }
    },
  };
}

let isRegistered = false;

function registerOnce(): void {
  if (isRegistered) return;
  isRegistered = true;
  grpc.experimental.registerResolver(SCHEME, DiscoveryNameResolver);
}

/** The grpc-js side: one per channel, reading the shared resolver of its URI. */
class DiscoveryNameResolver implements grpc.experimental.Resolver {
  private readonly uri: string;
  private readonly isRoundRobin: boolean;
  private unsubscribe: (() => void) | undefined;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
    channelOptions: grpc.ChannelOptions,
  ) {
    this.uri = decodeURIComponent(target.path);
    this.isRoundRobin = String(channelOptions["grpc.service_config"] ?? "").includes("round_robin");
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return (
      decodeURIComponent(target.path)
        .replace(/^[a-z0-9+]+:\/\//, "")
        .split(/[/?,]/)[0] ?? "scalemesh"
    );
  }

  updateResolution(): void {
    const entry = followed.get(this.uri);
    if (entry === undefined) {
      setImmediate(() =>
        this.reportError(`${this.uri} is not followed by this process (the client was closed)`),
      );
      return;
    }
    if (this.unsubscribe === undefined) {
      this.unsubscribe = entry.resolver.subscribe(() => this.report(entry.resolver));
    } else {
      // The channel asks again after a failed connection: maybe the registry knows better now.
      entry.resolver.refresh();
    }
    // Never synchronously (the grpc-js contract), and only once there is something to say.
    setImmediate(() => this.report(entry.resolver));
  }

  destroy(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private report(resolver: EndpointResolver): void {
    if (this.unsubscribe === undefined) return;
    const endpoints = usable(resolver.current(), this.isRoundRobin);
    if (endpoints.length > 0) {
      this.listener(
        grpc.experimental.statusOrFromValue(endpoints.map(toGrpcEndpoint)),
        {},
        null,
        `endpoints from ${this.uri}`,
      );
      return;
    }
    const error = resolver.lastError();
    if (error !== undefined) this.reportError(`${this.uri}: ${error}`);
    else if (resolver.hasAnswered)
      this.reportError(
        `${this.uri} lists no endpoint (nothing registered, or none passing its health check)`,
      );
    // Before the first answer the channel waits, as it does for a slow DNS answer.
  }

  private reportError(details: string): void {
    this.listener(
      grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details }),
      {},
      null,
      details,
    );
  }
}

/**
 * pick_first gets every endpoint in preference order (it fails over down the
 * list by itself); round_robin spreads over the preferred priority only, so
 * backups (a higher DNS SRV priority) take no traffic while it has members.
 */
function usable(
  endpoints: readonly DiscoveredEndpoint[],
  isRoundRobin: boolean,
): readonly DiscoveredEndpoint[] {
  if (!isRoundRobin || endpoints.length === 0) return endpoints;
  const best = Math.min(...endpoints.map((e) => e.priority));
  return endpoints.filter((e) => e.priority === best);
}

function toGrpcEndpoint(endpoint: DiscoveredEndpoint): grpc.experimental.Endpoint {
  const hostPort = grpc.experimental.splitHostPort(endpoint.address);
  return { addresses: [{ host: hostPort?.host ?? endpoint.address, port: hostPort?.port ?? 0 }] };
}
