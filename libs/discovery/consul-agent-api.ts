// Our small interface over the `consul` npm package (2.0.1, unmaintained),
// the one place that knows its quirks: it hands back the HTTP response (so
// X-Consul-Index) only when `ctx` is an EventEmitter with `includeResponse`
// set, aborts a request when that emitter emits "cancel", lower-cases option
// keys and strips their underscores before mapping them to Consul's names
// (grpcusetls -> GRPCUseTLS), and reports the agent's answer to a failed
// request in the error's `response`.
import { fileNamedBy } from "./env-file.js";
import { lookup } from "node:dns";
import { EventEmitter } from "node:events";
import type { LookupFunction } from "node:net";
import { Agent as HttpsAgent } from "node:https";
import Consul from "consul";

/** A plain (non-blocking) request, and a registration, get this long. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface HealthQuery {
  readonly service: string;
  readonly tag?: string;
  readonly datacenter?: string;
  /** 0 = answer now; otherwise block until the agent's index passes it. */
  readonly index: bigint;
  readonly waitSec: number;
}

export interface HealthAnswer {
  readonly entries: unknown;
  readonly index: bigint | undefined;
}

/** An agent service registration in the package's spelling of Consul's field names. */
export interface ServiceRegistration {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags: string[];
  readonly meta: Record<string, string>;
  readonly check: {
    readonly name: string;
    readonly grpc?: string;
    readonly grpcusetls?: boolean;
    readonly http?: string;
    readonly interval: string;
    readonly timeout: string;
    readonly deregistercriticalserviceafter: string;
  };
}

export interface ConsulAgentApi {
  passingInstances(query: HealthQuery, signal: AbortSignal): Promise<HealthAnswer>;
  registerService(registration: ServiceRegistration): Promise<void>;
  /** "unknown" when the agent did not list the id (Consul answers 404). */
  deregisterService(id: string): Promise<"removed" | "unknown">;
  /** Drops the kept-alive connections. */
  close(): void;
}

/**
 * HTTPS to the agent from the variables Consul's own CLI reads:
 * CONSUL_HTTP_SSL=true, or CONSUL_CACERT (the CA that signed the agent's
 * certificate), with CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY for an agent
 * that verifies clients (verify_incoming). Undefined: plain HTTP. A file that
 * cannot be read throws, naming the variable.
 */
export function consulTlsOf(
  env: NodeJS.ProcessEnv,
): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  const read = (name: string): Buffer | undefined => fileNamedBy(env, name);
  const ca = read("CONSUL_CACERT");
  if (!ca && env.CONSUL_HTTP_SSL !== "true") return undefined;
  const cert = read("CONSUL_CLIENT_CERT");
  const key = read("CONSUL_CLIENT_KEY");
  return { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
}

/** The agent answered, but not as a Consul agent would. */
export class ConsulAnswerError extends Error {}

export function createConsulAgentApi(agent: string): ConsulAgentApi {
  const colon = agent.lastIndexOf(":");
  const token = process.env.CONSUL_HTTP_TOKEN;
  const tls = consulTlsOf(process.env);
  const clientOptions = {
    ...(tls ? { secure: true, agent: new HttpsAgent({ ...tls, keepAlive: true }) } : {}),
    host: agent.slice(0, colon),
    port: Number(agent.slice(colon + 1)),
    timeout: REQUEST_TIMEOUT_MS,
    // The package hands Node the URL form of an IPv6 host ("[::1]"), which
    // Node's resolver does not take; unwrap it.
    lookup: ((hostname, lookupOptions, callback) =>
      lookup(hostname.replace(/^\[(.*)\]$/, "$1"), lookupOptions, callback)) as LookupFunction,
    ...(token ? { defaults: { token } } : {}),
  };
  const consul = new Consul(clientOptions);

  return {
    passingInstances: async (query, signal) => {
      const { ctx, release } = cancelContext(signal);
      const isBlocking = query.index > 0n;
      const request = {
        service: query.service,
        passing: true,
        ...(query.tag ? { tag: query.tag } : {}),
        ...(query.datacenter ? { dc: query.datacenter } : {}),
        ...(isBlocking ? { index: String(query.index), wait: `${query.waitSec}s` } : {}),
        // The agent may add wait/16 of jitter; past that (and some slack) it is not answering.
        timeout: isBlocking
          ? Math.ceil((query.waitSec * 1000 * 17) / 16) + 5_000
          : REQUEST_TIMEOUT_MS,
        ctx,
      };
      try {
        const result: unknown = await consul.health.service(request);
        if (!Array.isArray(result))
          throw new ConsulAnswerError("the consul package answered without the HTTP response");
        const [response, entries] = result as unknown[];
        const indexHeader = recordOf(recordOf(response).headers)["x-consul-index"];
        return {
          entries: entries ?? [],
          index:
            typeof indexHeader === "string" && /^\d+$/.test(indexHeader)
              ? BigInt(indexHeader)
              : undefined,
        };
      } finally {
        release();
      }
    },
    registerService: async (registration) => {
      await consul.agent.service.register(registration);
    },
    deregisterService: async (id) => {
      try {
        await consul.agent.service.deregister(id);
        return "removed";
      } catch (error) {
        if (statusOf(error) === 404) return "unknown";
        throw error;
      }
    },
    close: () => consul.destroy(),
  };
}

/** The EventEmitter the package wants as `ctx`, cancelled by our AbortSignal. */
function cancelContext(signal: AbortSignal): { ctx: EventEmitter; release: () => void } {
  const ctx = Object.assign(new EventEmitter(), { includeResponse: true, canceled: false });
  const cancel = () => {
    ctx.canceled = true;
    ctx.emit("cancel");
  };
  if (signal.aborted) cancel();
  else signal.addEventListener("abort", cancel, { once: true });
  return { ctx, release: () => signal.removeEventListener("abort", cancel) };
}

/** The HTTP status the agent answered a failed request with; undefined when it did not answer. */
export function statusOf(error: unknown): number | undefined {
  const status = recordOf(recordOf(error).response).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The agent's own words when it gave some (its text/plain body), else the error's message. */
export function errorText(error: unknown): string {
  const body = recordOf(recordOf(error).response).body;
  if (typeof body === "string" && body.trim() !== "") return body.trim();
  return error instanceof Error ? error.message : String(error);
}

export function recordOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
