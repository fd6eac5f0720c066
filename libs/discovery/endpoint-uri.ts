// The one URI syntax that says where to find a service (DESIGN.md), parsed
// into a typed target per scheme. Parsing never throws: a bad URI comes back
// as { ok: false, error } naming what is wrong and what would be right.
//
//   static://h1:7070,h2:7070
//   dns+srv://[server:port/]_coordinator._tcp.example.internal[?interval_sec=30]
//   consul://127.0.0.1:8500/scalemesh-coordinator[?tag=x&dc=y&deregister_after=1m]
//   etcd://127.0.0.1:2379[,h2:2379]/scalemesh/coordinator[?ttl_sec=10]
//   k8s://namespace/service:port          (port: a number or the port's name)

export type DiscoveryScheme = "static" | "dns+srv" | "consul" | "etcd" | "k8s";

export interface StaticTarget {
  readonly scheme: "static";
  readonly endpoints: readonly string[];
}

export interface DnsSrvTarget {
  readonly scheme: "dns+srv";
  /** The SRV name, e.g. _coordinator._tcp.example.internal. */
  readonly name: string;
  /** The DNS server to ask (host:port); absent = the system's resolvers. */
  readonly server?: string;
  /** Longest time between two resolutions; shorter when the address records' TTL says so. */
  readonly intervalSec: number;
}

export interface ConsulTarget {
  readonly scheme: "consul";
  /** The Consul agent's HTTP API, host:port. */
  readonly agent: string;
  readonly service: string;
  readonly tag?: string;
  readonly datacenter?: string;
  /** Registrar: how long a critical registration lives before Consul removes it (Consul duration). */
  readonly deregisterAfter: string;
  /** Registrar: how often Consul runs the health check (Consul duration). */
  readonly checkInterval: string;
}

export interface EtcdTarget {
  readonly scheme: "etcd";
  readonly hosts: readonly string[];
  /** Key prefix ending in "/", e.g. /scalemesh/coordinator/. */
  readonly prefix: string;
  /** Registrar: the lease's time to live; a SIGKILLed service vanishes after it. */
  readonly ttlSec: number;
}

export interface K8sTarget {
  readonly scheme: "k8s";
  readonly namespace: string;
  readonly service: string;
  /** The port's number, or its name in the EndpointSlice. */
  readonly port: number | string;
}

export type DiscoveryTarget = StaticTarget | DnsSrvTarget | ConsulTarget | EtcdTarget | K8sTarget;

export type ParsedUri =
  ({ readonly ok: true } & DiscoveryTarget) | { readonly ok: false; readonly error: string };

export const DISCOVERY_SCHEMES: readonly DiscoveryScheme[] = [
  "static",
  "dns+srv",
  "consul",
  "etcd",
  "k8s",
];

const EXAMPLES: Record<DiscoveryScheme, string> = {
  static: "static://127.0.0.1:7070",
  "dns+srv": "dns+srv://127.0.0.1:5353/_coordinator._tcp.example.internal",
  consul: "consul://127.0.0.1:8500/scalemesh-coordinator",
  etcd: "etcd://127.0.0.1:2379/scalemesh/coordinator",
  k8s: "k8s://default/scalemesh-coordinator:grpc",
};

type Failure = { readonly ok: false; readonly error: string };

export function parseEndpointUri(uri: string): ParsedUri {
  const match = /^([a-z0-9+]+):\/\/([^?]*)(?:\?(.*))?$/.exec(uri.trim());
  if (!match) return fail(`"${uri}" is not a discovery URI; expected e.g. ${EXAMPLES.static}`);
  const scheme = match[1] as string;
  const body = match[2] as string;
  const query = new URLSearchParams(match[3] ?? "");
  if (!DISCOVERY_SCHEMES.includes(scheme as DiscoveryScheme)) {
    return fail(
      `unknown discovery scheme "${scheme}" in "${uri}"; known: ${DISCOVERY_SCHEMES.join(", ")}`,
    );
  }
  const known = scheme as DiscoveryScheme;
  const unknownKey = [...query.keys()].find((key) => !QUERY_KEYS[known].includes(key));
  if (unknownKey !== undefined) {
    const allowed =
      QUERY_KEYS[known].length > 0
        ? `allowed: ${QUERY_KEYS[known].join(", ")}`
        : `${known}:// takes no query`;
    return fail(`unknown query key "${unknownKey}" in "${uri}"; ${allowed}`);
  }
  const parsed = PARSERS[known](body, query, uri);
  return "error" in parsed ? parsed : { ok: true, ...parsed };
}

const QUERY_KEYS: Record<DiscoveryScheme, readonly string[]> = {
  static: [],
  "dns+srv": ["interval_sec"],
  consul: ["tag", "dc", "deregister_after", "check_interval"],
  etcd: ["ttl_sec"],
  k8s: [],
};

const PARSERS: {
  [S in DiscoveryScheme]: (
    body: string,
    query: URLSearchParams,
    uri: string,
  ) => Extract<DiscoveryTarget, { scheme: S }> | Failure;
} = {
  static: (body, _query, uri) => {
    const endpoints = body
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e.length > 0);
    if (endpoints.length === 0)
      return fail(`"${uri}" names no endpoint; expected e.g. ${EXAMPLES.static}`);
    const bad = endpoints.find((endpoint) => !isHostPort(endpoint));
    if (bad !== undefined)
      return fail(`endpoint "${bad}" in "${uri}" needs host:port with a port 1..65535`);
    return { scheme: "static", endpoints };
  },

  "dns+srv": (body, query, uri) => {
    const slash = body.lastIndexOf("/");
    const server = slash >= 0 ? body.slice(0, slash) : undefined;
    const name = (slash >= 0 ? body.slice(slash + 1) : body).replace(/\.$/, "");
    if (server !== undefined && !isHostPort(server)) {
      return fail(`DNS server "${server}" in "${uri}" needs host:port (e.g. 127.0.0.1:53)`);
    }
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(name)) {
      return fail(
        `"${name}" in "${uri}" is not an SRV name; expected e.g. _coordinator._tcp.example.internal`,
      );
    }
    const intervalSec = positiveNumber(query, "interval_sec", 30, uri);
    if (typeof intervalSec !== "number") return intervalSec;
    return { scheme: "dns+srv", name, ...(server !== undefined ? { server } : {}), intervalSec };
  },

  consul: (body, query, uri) => {
    const [agent, ...rest] = body.split("/");
    const service = rest.join("/");
    if (agent === undefined || !isHostPort(agent))
      return fail(
        `Consul agent "${agent ?? ""}" in "${uri}" needs host:port; expected e.g. ${EXAMPLES.consul}`,
      );
    if (!/^[A-Za-z0-9-]+$/.test(service))
      return fail(
        `"${uri}" needs a Consul service name (letters, digits, dashes) after the agent; expected e.g. ${EXAMPLES.consul}`,
      );
    const durations = ["deregister_after", "check_interval"]
      .map((key) => query.get(key))
      .filter((value): value is string => value !== null);
    const badDuration = durations.find((value) => !/^\d+(ms|s|m|h)$/.test(value));
    if (badDuration !== undefined)
      return fail(`"${badDuration}" in "${uri}" is not a Consul duration such as 30s or 1m`);
    const tag = query.get("tag");
    const datacenter = query.get("dc");
    return {
      scheme: "consul",
      agent,
      service,
      ...(tag ? { tag } : {}),
      ...(datacenter ? { datacenter } : {}),
      deregisterAfter: query.get("deregister_after") ?? "1m",
      checkInterval: query.get("check_interval") ?? "5s",
    };
  },

  etcd: (body, query, uri) => {
    const slash = body.indexOf("/");
    const hosts = (slash >= 0 ? body.slice(0, slash) : body).split(",").filter((h) => h.length > 0);
    const path = slash >= 0 ? body.slice(slash) : "";
    if (hosts.length === 0 || !hosts.every(isHostPort))
      return fail(
        `etcd endpoints in "${uri}" need host:port[,host:port]; expected e.g. ${EXAMPLES.etcd}`,
      );
    if (path.replace(/\/+/g, "") === "")
      return fail(
        `"${uri}" needs a key prefix after the endpoints; expected e.g. ${EXAMPLES.etcd}`,
      );
    const ttlSec = positiveNumber(query, "ttl_sec", 10, uri);
    if (typeof ttlSec !== "number") return ttlSec;
    if (!Number.isInteger(ttlSec) || ttlSec < 2)
      return fail(
        `ttl_sec in "${uri}" must be a whole number of seconds, at least 2 (etcd leases count in seconds)`,
      );
    return { scheme: "etcd", hosts, prefix: `${path.replace(/\/+$/, "")}/`, ttlSec };
  },

  k8s: (body, _query, uri) => {
    const match =
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?):([A-Za-z0-9-]+)$/.exec(
        body,
      );
    if (!match)
      return fail(
        `"${uri}" needs k8s://namespace/service:port (port: number or name); expected e.g. ${EXAMPLES.k8s}`,
      );
    const portText = match[5] as string;
    const port = /^\d+$/.test(portText) ? Number(portText) : portText;
    if (typeof port === "number" && (port < 1 || port > 65535))
      return fail(`port ${port} in "${uri}" is not 1..65535`);
    return { scheme: "k8s", namespace: match[1] as string, service: match[3] as string, port };
  },
};

/** Why `uri` cannot be registered with, or undefined when it can: only consul:// and etcd:// have a registry. */
export function registrationUriError(uri: string): string | undefined {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok) return parsed.error;
  if (parsed.scheme === "consul" || parsed.scheme === "etcd") return undefined;
  const listKeeper =
    parsed.scheme === "k8s"
      ? "the Service's selector"
      : parsed.scheme === "dns+srv"
        ? "the DNS zone"
        : "the static URI";
  return `${parsed.scheme}:// has no registry to register in ("${uri}"); register with consul:// or etcd://, or list this service in ${listKeeper} yourself`;
}

/** host:port with a port 1..65535; IPv6 hosts in brackets. */
export function isHostPort(endpoint: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]+):(\d+)$/.exec(endpoint);
  const port = Number(match?.[2]);
  return match !== null && Number.isInteger(port) && port >= 1 && port <= 65535;
}

function positiveNumber(
  query: URLSearchParams,
  key: string,
  fallback: number,
  uri: string,
): number | Failure {
  const text = query.get(key);
  if (text === null) return fallback;
  const value = Number(text);
  return Number.isFinite(value) && value > 0
    ? value
    : fail(`${key}=${text} in "${uri}" must be a positive number`);
}

function fail(error: string): Failure {
  return { ok: false, error };
}
