// consul://agent/service : the passing instances of a Consul service, followed
// with blocking queries on /v1/health/service, and the registrar that puts a
// scalemesh service in the agent with a gRPC or HTTP check the agent runs.
// The agent is asked through ConsulAgentApi (consul-agent-api.ts).
import { backoffCeilingMs, type BackoffPolicy } from "../backoff/index.js";
import {
  ConsulAnswerError,
  createConsulAgentApi,
  errorText,
  recordOf,
  REQUEST_TIMEOUT_MS,
  statusOf,
  type ConsulAgentApi,
  type ServiceRegistration,
} from "./consul-agent-api.js";
import type { ConsulTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, WatchFunction } from "./endpoint-watch.js";
import type { Registrar, RegistrarOptions, ServiceInstance } from "./registrar.js";

/** How long the agent may hold one blocking query (Consul allows up to 10 m). */
const BLOCKING_WAIT_SEC = 30;
/** Consul's docs ask blocking clients to rate-limit: an agent that answers at once every time must not become a busy loop. */
const MIN_REQUEST_GAP_MS = 100;
/** README.md: "retries after 1 s, doubling up to 10 s". */
const RETRY: BackoffPolicy = { initialMs: 1_000, maxMs: 10_000 };

export const watchConsul: WatchFunction<ConsulTarget> = (target, sink, options) => {
  const uri = consulUri(target);
  const log = options.logger?.child({ discovery: uri });
  const random = options.random ?? Math.random;
  const api = createConsulAgentApi(target.agent);
  const stopping = new AbortController();
  let endPause: (() => void) | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        endPause = undefined;
        resolve();
      }
      endPause = finish;
    });

  const follow = async (): Promise<void> => {
    let index = 0n;
    let failures = 0;
    let lastStartMs = -Infinity;
    while (!stopping.signal.aborted) {
      const gapMs = lastStartMs + MIN_REQUEST_GAP_MS - Date.now();
      if (gapMs > 0) await pause(gapMs);
      if (stopping.signal.aborted) return;
      lastStartMs = Date.now();
      try {
        const answer = await api.passingInstances(
          { ...target, index, waitSec: BLOCKING_WAIT_SEC },
          stopping.signal,
        );
        if (stopping.signal.aborted) return;
        if (answer.index === undefined)
          throw new ConsulAnswerError(
            "answered without an X-Consul-Index header, so it cannot be watched; check that the address is a Consul agent's HTTP API",
          );
        const endpoints = toEndpoints(answer.entries);
        index = nextIndex(index, answer.index);
        failures = 0;
        sink.publish(endpoints);
      } catch (error) {
        if (stopping.signal.aborted) return;
        // Start over without an index: after an outage the agent may be a new
        // one whose indexes are lower, and a fresh answer should come at once.
        index = 0n;
        failures += 1;
        const delayMs = retryDelayMs(failures, random);
        log?.debug({ err: errorText(error), retryMs: delayMs }, "consul query failed");
        sink.fail(describeWatchFailure(target, error));
        await pause(delayMs);
      }
    }
  };
  const following = follow().catch((error: unknown) => {
    if (!stopping.signal.aborted) sink.fail(`${uri}: watcher stopped: ${errorText(error)}`);
  });

  return {
    // A blocking query already hears of every change; only a retry pause is worth cutting short.
    refresh: () => endPause?.(),
    close: async () => {
      stopping.abort();
      endPause?.();
      await following;
      api.close();
    },
  };
};

export function createConsulRegistrar(
  target: ConsulTarget,
  instance: ServiceInstance,
  options: RegistrarOptions,
): Registrar {
  const uri = consulUri(target);
  const log = options.logger?.child({ registry: uri, instanceId: instance.id });
  let isRegistered = false;
  const withApi = async <T>(action: (api: ConsulAgentApi) => Promise<T>): Promise<T> => {
    const api = createConsulAgentApi(target.agent);
    try {
      return await action(api);
    } finally {
      api.close();
    }
  };

  return {
    uri,
    register: async () => {
      try {
        await withApi((api) => api.registerService(registrationFor(target, instance)));
        isRegistered = true;
      } catch (error) {
        throw new Error(describeRegistrarFailure("register", target, instance, error));
      }
    },
    deregister: async () => {
      try {
        const outcome = await withApi((api) => api.deregisterService(instance.id));
        if (outcome === "unknown") log?.debug("the agent no longer lists this instance");
        isRegistered = false;
      } catch (error) {
        // Nothing of ours is known to be there: a failed register() left no
        // registration we could name, and the check's deregister_after removes strays.
        if (!isRegistered) {
          log?.debug(
            { err: errorText(error) },
            "deregister after no successful register; nothing to remove",
          );
          return;
        }
        throw new Error(describeRegistrarFailure("deregister", target, instance, error));
      }
    },
  };
}

/** What the agent is asked to keep: tags and meta say where the instance runs, the check says how the agent probes it. */
function registrationFor(target: ConsulTarget, instance: ServiceInstance): ServiceRegistration {
  const place = [
    ["region", instance.region],
    ["zone", instance.zone],
  ].filter(([, value]) => value !== "");
  const probe =
    instance.check.kind === "grpc"
      ? { grpc: instance.check.address, grpcusetls: false }
      : { http: instance.check.url };
  return {
    name: target.service,
    id: instance.id,
    address: instance.host,
    port: instance.port,
    tags: [...place.map(([key, value]) => `${key}:${value}`), ...(target.tag ? [target.tag] : [])],
    meta: { ...Object.fromEntries(place), ...instance.meta },
    check: {
      name: `scalemesh ${instance.check.kind} health of ${instance.id}`,
      ...probe,
      interval: target.checkInterval,
      // A probe slower than its interval is as good as failed.
      timeout:
        durationMs(target.checkInterval) < REQUEST_TIMEOUT_MS
          ? target.checkInterval
          : `${REQUEST_TIMEOUT_MS / 1000}s`,
      deregistercriticalserviceafter: target.deregisterAfter,
    },
  };
}

/**
 * The index for the next blocking query, by Consul's rules for blocking
 * clients (api-docs/features/blocking): an index of 0 is never waited on (1
 * is always safe), and one lower than before means the agent's state was
 * reset, so the loop restarts from 0.
 */
export function nextIndex(previous: bigint, received: bigint): bigint {
  if (received <= 0n) return 1n;
  if (received < previous) return 0n;
  return received;
}

// ---- health entries -> endpoints ----

/** A Consul health answer as endpoints; throws ConsulAnswerError when it is not a list. Exported for the fuzz tests. */
export function toEndpoints(entries: unknown): DiscoveredEndpoint[] {
  if (!Array.isArray(entries))
    throw new ConsulAnswerError(
      "answered with something other than a list of service entries; check that the address is a Consul agent's HTTP API",
    );
  return entries.flatMap((entry) => {
    const endpoint = toEndpoint(entry);
    return endpoint ? [endpoint] : [];
  });
}

function toEndpoint(entry: unknown): DiscoveredEndpoint | undefined {
  const service = recordOf(recordOf(entry).Service);
  const node = recordOf(recordOf(entry).Node);
  // An instance registered without an address is reached at its node's.
  const host = textOf(service.Address) || textOf(node.Address);
  const port = service.Port;
  if (
    host === "" ||
    typeof port !== "number" ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535
  )
    return undefined;
  const meta = recordOf(service.Meta);
  const tags = Array.isArray(service.Tags)
    ? service.Tags.filter((tag): tag is string => typeof tag === "string")
    : [];
  const region = textOf(meta.region) || tagValue(tags, "region");
  const zone = textOf(meta.zone) || tagValue(tags, "zone");
  const passingWeight = recordOf(service.Weights).Passing;
  const id = textOf(service.ID);
  return {
    address: host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`,
    priority: 0,
    weight: typeof passingWeight === "number" && passingWeight > 0 ? passingWeight : 1,
    ...(id !== "" ? { id } : {}),
    ...(region !== "" ? { region } : {}),
    ...(zone !== "" ? { zone } : {}),
  };
}

function tagValue(tags: readonly string[], key: string): string {
  const tag = tags.find((t) => t.startsWith(`${key}:`));
  return tag === undefined ? "" : tag.slice(key.length + 1);
}

// ---- failures, said so a person knows what to check ----

function describeWatchFailure(target: ConsulTarget, error: unknown): string {
  const where = `${consulUri(target)}: the Consul agent at ${target.agent}`;
  const status = statusOf(error);
  const detail = errorText(error);
  if (error instanceof ConsulAnswerError) return `${where} ${detail}`;
  if (status === 403)
    return `${where} refused to list service "${target.service}" (403 ${detail}); check that CONSUL_HTTP_TOKEN holds a token with service:read on it`;
  if (status === 500 && /datacenter/i.test(detail))
    return `${where} knows no datacenter "${target.datacenter ?? ""}" (${detail}); check dc= in the URI`;
  if (status !== undefined)
    return `${where} answered ${status} (${detail}) when asked for service "${target.service}"`;
  return `${where} cannot be reached (${detail}); check that the agent runs and that ${target.agent} is its HTTP address`;
}

function describeRegistrarFailure(
  action: "register" | "deregister",
  target: ConsulTarget,
  instance: ServiceInstance,
  error: unknown,
): string {
  const what = `cannot ${action} ${instance.id} as service "${target.service}" with the Consul agent at ${target.agent}`;
  const status = statusOf(error);
  const detail = errorText(error);
  if (status === 400)
    return `${what}: the agent refused it (400 ${detail}); check the instance's address, meta and the URI's check_interval / deregister_after`;
  if (status === 403)
    return `${what}: permission denied (403 ${detail}); check that CONSUL_HTTP_TOKEN holds a token with service:write on "${target.service}"`;
  if (status !== undefined) return `${what}: the agent answered ${status} (${detail})`;
  return `${what}: the agent cannot be reached (${detail}); check that it runs and that ${target.agent} is its HTTP address`;
}

// ---- small helpers ----

function consulUri(target: ConsulTarget): string {
  return `consul://${target.agent}/${target.service}`;
}

/**
 * Doubling from 1 s to 10 s, each stretched by up to a quarter at random so
 * watchers of a restarted agent do not retry in step. Stretched rather than
 * fully jittered, so no retry comes sooner than the 1 s, 2 s, 4 s … promised.
 */
function retryDelayMs(failures: number, random: () => number): number {
  return Math.min(RETRY.maxMs, backoffCeilingMs(RETRY, failures) * (1 + random() / 4));
}

/** A duration as endpoint-uri.ts accepts it (digits and ms|s|m|h), in ms. */
function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!match) return Number.NaN;
  const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unitMs;
}

function textOf(value: unknown): string {
  return typeof value === "string" ? value : "";
}
