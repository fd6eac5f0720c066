// A fake Consul agent for tests, following the documented HTTP API
// (developer.hashicorp.com/consul/api-docs: agent/service, health,
// features/blocking) closely enough that a client cannot tell on the paths it
// uses: registrations are validated and refused with 400 and Consul's reason,
// checks really run at their interval (gRPC grpc.health.v1 Check, HTTP, TCP),
// services critical for longer than DeregisterCriticalServiceAfter are
// reaped, and /v1/health/service holds a blocking query until its index moves
// past the one asked for or `wait` runs out.
//
// Consul's own floors are the defaults (checks at most once a second, reaping
// no sooner than a minute, a reaper pass every 30 s); tests lower the last two
// the way an agent's check_deregister_interval_min / check_reap_interval would.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { isRecord, readBody } from "./fake-http.js";

export type CheckStatus = "passing" | "warning" | "critical";

export interface FakeConsulOptions {
  /** Listen here (a restarted agent on its old port); 0 = a free port. */
  readonly port?: number;
  /** 127.0.0.1 unless told otherwise (::1 to try IPv6). */
  readonly host?: string;
  readonly datacenter?: string;
  readonly nodeName?: string;
  readonly nodeAddress?: string;
  /** Consul raises a shorter DeregisterCriticalServiceAfter to this (1 minute). */
  readonly minimumDeregisterAfterMs?: number;
  /** How often critical services are looked for (Consul: 30 s). */
  readonly reapIntervalMs?: number;
  /** When set, every request must carry this ACL token, else 403. */
  readonly aclToken?: string;
  /** Serve HTTPS (Consul's verify_incoming when `requestCert`): PEM key, certificate and CA. */
  readonly tls?: { key: string; cert: string; ca: string; requestCert: boolean };
  /** Spreads first check runs and blocking-query wake-ups the way Consul does; inject for replay. */
  readonly random?: () => number;
}

export interface FakeCheckView {
  readonly id: string;
  readonly type: "grpc" | "http" | "tcp";
  readonly target: string;
  readonly intervalMs: number;
  readonly status: CheckStatus;
  readonly output: string;
}

export interface FakeServiceView {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly checks: readonly FakeCheckView[];
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly hasToken: boolean;
}

export interface FakeConsul {
  /** host:port of the HTTP API, as a consul:// URI names it. */
  readonly address: string;
  readonly port: number;
  services(): readonly FakeServiceView[];
  /** Registration bodies the agent accepted, as received (parsed JSON). */
  readonly registrations: readonly unknown[];
  readonly requests: readonly FakeRequest[];
  /** held: waiting now; answered: returned (change or wait over); abandoned: the client hung up first. */
  blockingQueries(): {
    readonly held: number;
    readonly answered: number;
    readonly abandoned: number;
  };
  close(): Promise<void>;
}

const MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_WAIT_MS = 5 * 60_000;
const MIN_CHECK_INTERVAL_MS = 1_000;
const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

interface CheckDefinition {
  readonly id: string;
  readonly name: string;
  readonly type: "grpc" | "http" | "tcp";
  readonly target: string;
  readonly useTls: boolean;
  readonly method: string;
  readonly header: Readonly<Record<string, readonly string[]>>;
  readonly body: string | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly deregisterAfterMs: number | undefined;
  readonly status: CheckStatus | undefined;
}

interface ServiceDefinition {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly weights: { readonly Passing: number; readonly Warning: number };
  readonly checks: readonly CheckDefinition[];
}

interface RunningCheck {
  readonly definition: CheckDefinition;
  status: CheckStatus;
  output: string;
  criticalSinceMs: number | undefined;
  modifyIndex: number;
  stop(): void;
}

interface RegisteredService {
  readonly definition: ServiceDefinition;
  readonly createIndex: number;
  modifyIndex: number;
  readonly checks: RunningCheck[];
}

interface Waiter {
  readonly service: string;
  readonly minIndex: number;
  answer(): void;
}

type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export async function startFakeConsul(options: FakeConsulOptions = {}): Promise<FakeConsul> {
  const datacenter = options.datacenter ?? "dc1";
  const nodeName = options.nodeName ?? "fake-consul-node";
  const nodeAddress = options.nodeAddress ?? "127.0.0.1";
  const minimumDeregisterAfterMs = options.minimumDeregisterAfterMs ?? 60_000;
  const random = options.random ?? Math.random;
  const services = new Map<string, RegisteredService>();
  const registrations: unknown[] = [];
  const requests: FakeRequest[] = [];
  const waiters = new Set<Waiter>();
  const counts = { answered: 0, abandoned: 0 };
  // One raft-like index for the agent; each service name remembers the index
  // of its last change, and names with no instance left answer with the
  // index of the last such extinction (as Consul does), so a query blocked on
  // a service whose last instance goes away wakes up.
  let raftIndex = 10;
  const serviceIndex = new Map<string, number>();
  let lastExtinctionIndex = 1;

  const indexOf = (name: string): number =>
    Math.max(1, serviceIndex.get(name) ?? lastExtinctionIndex);
  const touch = (name: string): number => {
    raftIndex += 1;
    const stillExists = [...services.values()].some((s) => s.definition.name === name);
    if (stillExists) serviceIndex.set(name, raftIndex);
    else {
      serviceIndex.delete(name);
      lastExtinctionIndex = raftIndex;
    }
    for (const waiter of [...waiters])
      if (waiter.service === name && indexOf(name) > waiter.minIndex) waiter.answer();
    return raftIndex;
  };

  const register = (definition: ServiceDefinition): void => {
    const previous = services.get(definition.id);
    previous?.checks.forEach((check) => check.stop());
    const index = raftIndex + 1;
    const registered: RegisteredService = {
      definition,
      createIndex: previous?.createIndex ?? index,
      modifyIndex: index,
      checks: [],
    };
    for (const check of definition.checks) {
      // A re-registration keeps a check's status (Consul does not reset a
      // known check to critical), unless the new definition sets one.
      const known = previous?.checks.find((c) => c.definition.id === check.id);
      const status = check.status ?? known?.status ?? "critical";
      const running: RunningCheck = {
        definition: check,
        status,
        output: known?.output ?? "",
        criticalSinceMs: status === "critical" ? (known?.criticalSinceMs ?? Date.now()) : undefined,
        modifyIndex: index,
        stop: () => {},
      };
      running.stop = startCheckLoop(check, random, (result) => {
        if (!services.has(definition.id) || services.get(definition.id) !== registered) return;
        running.output = result.output;
        if (result.status === running.status) return;
        running.status = result.status;
        running.criticalSinceMs = result.status === "critical" ? Date.now() : undefined;
        running.modifyIndex = touch(definition.name);
      });
      registered.checks.push(running);
    }
    services.set(definition.id, registered);
    if (previous && previous.definition.name !== definition.name) touch(previous.definition.name);
    registered.modifyIndex = touch(definition.name);
  };

  const deregister = (id: string): boolean => {
    const existing = services.get(id);
    if (!existing) return false;
    existing.checks.forEach((check) => check.stop());
    services.delete(id);
    touch(existing.definition.name);
    return true;
  };

  const reaper = setInterval(() => {
    const now = Date.now();
    for (const [id, service] of [...services]) {
      const isOverdue = service.checks.some(
        (check) =>
          check.definition.deregisterAfterMs !== undefined &&
          check.criticalSinceMs !== undefined &&
          now - check.criticalSinceMs >
            Math.max(check.definition.deregisterAfterMs, minimumDeregisterAfterMs),
      );
      if (isOverdue) deregister(id);
    }
  }, options.reapIntervalMs ?? 30_000);

  const node = () => ({
    ID: "2c4bd2b5-5b6a-4b46-9a3b-5f3c2b8e6f10",
    Node: nodeName,
    Address: nodeAddress,
    Datacenter: datacenter,
    TaggedAddresses: { lan: nodeAddress, wan: nodeAddress },
    Meta: { "consul-network-segment": "" },
    CreateIndex: 5,
    ModifyIndex: 5,
  });

  const checkJson = (service: RegisteredService, check: RunningCheck) => ({
    Node: nodeName,
    CheckID: check.definition.id,
    Name: check.definition.name,
    Status: check.status,
    Notes: "",
    Output: check.output,
    ServiceID: service.definition.id,
    ServiceName: service.definition.name,
    ServiceTags: service.definition.tags,
    Type: check.definition.type,
    Interval: formatDuration(check.definition.intervalMs),
    Timeout: formatDuration(check.definition.timeoutMs),
    ExposedPort: 0,
    Definition: {},
    CreateIndex: service.createIndex,
    ModifyIndex: check.modifyIndex,
  });

  const serfHealth = {
    Node: nodeName,
    CheckID: "serfHealth",
    Name: "Serf Health Status",
    Status: "passing",
    Notes: "",
    Output: "Agent alive and reachable",
    ServiceID: "",
    ServiceName: "",
    ServiceTags: [],
    Type: "",
    Definition: {},
    CreateIndex: 5,
    ModifyIndex: 5,
  };

  const serviceJson = (service: RegisteredService) => ({
    ID: service.definition.id,
    Service: service.definition.name,
    Tags: service.definition.tags,
    Address: service.definition.address,
    Meta: service.definition.meta,
    Port: service.definition.port,
    Weights: service.definition.weights,
    EnableTagOverride: false,
    Connect: {},
    PeerName: "",
    CreateIndex: service.createIndex,
    ModifyIndex: service.modifyIndex,
  });

  const healthEntries = (name: string, tags: readonly string[], isPassingOnly: boolean) =>
    [...services.values()]
      .filter(
        (s) => s.definition.name === name && tags.every((tag) => s.definition.tags.includes(tag)),
      )
      .filter((s) => !isPassingOnly || s.checks.every((check) => check.status === "passing"))
      .map((s) => ({
        Node: node(),
        Service: serviceJson(s),
        Checks: [serfHealth, ...s.checks.map((check) => checkJson(s, check))],
      }));

  const handleHealthService = (res: ServerResponse, name: string, query: URLSearchParams): void => {
    const dc = query.get("dc");
    if (dc !== null && dc !== "" && dc !== datacenter)
      return sendText(res, 500, "No path to datacenter");
    const passing = query.get("passing");
    if (
      passing !== null &&
      passing !== "" &&
      !/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(passing)
    ) {
      return sendText(res, 400, `Invalid value for ?passing`);
    }
    const isPassingOnly = passing !== null && !/^(0|f|F|FALSE|false|False)$/.test(passing);
    const indexText = query.get("index");
    if (indexText !== null && !/^\d+$/.test(indexText)) return sendText(res, 400, "Invalid index");
    const waitText = query.get("wait");
    const waitMs = waitText === null ? DEFAULT_WAIT_MS : parseGoDuration(waitText);
    if (waitMs === undefined) return sendText(res, 400, "Invalid wait time");
    const tags = query.getAll("tag");
    const minIndex = indexText === null ? 0 : Number(indexText);
    const respond = () => {
      res.setHeader("X-Consul-Index", String(indexOf(name)));
      res.setHeader("X-Consul-KnownLeader", "true");
      res.setHeader("X-Consul-LastContact", "0");
      sendJson(res, 200, healthEntries(name, tags, isPassingOnly));
    };
    if (minIndex === 0 || indexOf(name) > minIndex) return respond();

    // Blocking query: Consul caps wait at 10 minutes and adds up to wait/16
    // of jitter so many watchers do not wake together.
    const cappedMs = Math.min(waitMs, MAX_WAIT_MS);
    const waiter: Waiter = {
      service: name,
      minIndex,
      answer: () => {
        if (!waiters.delete(waiter)) return;
        clearTimeout(timer);
        counts.answered += 1;
        respond();
      },
    };
    const timer = setTimeout(() => waiter.answer(), cappedMs + random() * (cappedMs / 16));
    waiters.add(waiter);
    res.on("close", () => {
      if (!waiters.delete(waiter)) return;
      clearTimeout(timer);
      counts.abandoned += 1;
    });
  };

  const handleRegister = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      return sendText(
        res,
        400,
        `Request decode failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const decoded = decodeServiceDefinition(body);
    if (!decoded.ok) return sendText(res, 400, decoded.reason);
    registrations.push(body);
    register(decoded.value);
    sendText(res, 200, "");
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake-consul");
    const token = tokenOf(req, url.searchParams);
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: url.searchParams,
      hasToken: token !== undefined,
    });
    if (options.aclToken !== undefined && token !== options.aclToken) {
      return sendText(
        res,
        403,
        token === undefined
          ? "Permission denied: anonymous token lacks permission"
          : "ACL not found",
      );
    }
    const path = url.pathname;
    const isPut = req.method === "PUT";
    const isGet = req.method === "GET";
    if (path === "/v1/agent/service/register") {
      if (!isPut) return sendText(res, 405, `method ${req.method} not allowed`);
      return handleRegister(req, res);
    }
    if (path.startsWith("/v1/agent/service/deregister/")) {
      if (!isPut) return sendText(res, 405, `method ${req.method} not allowed`);
      const id = decodeURIComponent(path.slice("/v1/agent/service/deregister/".length));
      if (deregister(id)) return sendText(res, 200, "");
      return sendText(
        res,
        404,
        `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
      );
    }
    if (path.startsWith("/v1/health/service/") && isGet) {
      return handleHealthService(
        res,
        decodeURIComponent(path.slice("/v1/health/service/".length)),
        url.searchParams,
      );
    }
    if (path === "/v1/agent/services" && isGet) {
      return sendJson(
        res,
        200,
        Object.fromEntries(
          [...services.values()].map((s) => [
            s.definition.id,
            { ...serviceJson(s), Datacenter: datacenter },
          ]),
        ),
      );
    }
    if (path.startsWith("/v1/agent/service/") && isGet) {
      const service = services.get(decodeURIComponent(path.slice("/v1/agent/service/".length)));
      if (!service) return sendText(res, 404, "unknown service ID");
      return sendJson(res, 200, { ...serviceJson(service), Datacenter: datacenter });
    }
    if (path === "/v1/agent/checks" && isGet) {
      return sendJson(
        res,
        200,
        Object.fromEntries(
          [...services.values()].flatMap((s) =>
            s.checks.map((c) => [c.definition.id, checkJson(s, c)]),
          ),
        ),
      );
    }
    sendText(res, 404, "404 page not found");
  };

  const listenHost = options.host ?? "127.0.0.1";
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendText(res, 500, error instanceof Error ? error.message : String(error));
    });
  };
  const tls = options.tls;
  const server = tls
    ? createHttpsServer(
        {
          key: tls.key,
          cert: tls.cert,
          ca: tls.ca,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.requestCert,
        },
        handler,
      )
    : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    address: listenHost.includes(":") ? `[${listenHost}]:${port}` : `${listenHost}:${port}`,
    port,
    services: () =>
      [...services.values()].map((s) => ({
        id: s.definition.id,
        name: s.definition.name,
        address: s.definition.address,
        port: s.definition.port,
        tags: s.definition.tags,
        meta: s.definition.meta,
        checks: s.checks.map((c) => ({
          id: c.definition.id,
          type: c.definition.type,
          target: c.definition.target,
          intervalMs: c.definition.intervalMs,
          status: c.status,
          output: c.output,
        })),
      })),
    registrations,
    requests,
    blockingQueries: () => ({ held: waiters.size, ...counts }),
    close: async () => {
      clearInterval(reaper);
      for (const service of services.values()) service.checks.forEach((check) => check.stop());
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---- registration bodies, decoded and refused the way Consul's agent does ----

function decodeServiceDefinition(body: unknown): Decoded<ServiceDefinition> {
  if (!isRecord(body))
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(body)} into Go value of type structs.ServiceDefinition`,
    );
  const name = stringField(body, "Name");
  if (!name.ok) return name;
  const id = stringField(body, "ID");
  if (!id.ok) return id;
  const address = stringField(body, "Address");
  if (!address.ok) return address;
  const port = intField(body, "Port");
  if (!port.ok) return port;
  const tags = stringList(body, "Tags");
  if (!tags.ok) return tags;
  const meta = stringMap(body, "Meta");
  if (!meta.ok) return meta;
  const weights = field(body, "Weights");
  if (name.value === "") return refuse("Missing service name");
  if (["0.0.0.0", "::", "[::]"].includes(address.value)) return refuse("Invalid service address");
  const metaProblem = metaError(meta.value);
  if (metaProblem !== undefined) return refuse(`Invalid Service Meta: ${metaProblem}`);
  if (port.value < 0 || port.value > 65535)
    return refuse(`Validation failed: invalid port ${port.value}`);

  const rawChecks: unknown[] = [];
  const single = field(body, "Check");
  if (isRecord(single) && Object.keys(single).length > 0) rawChecks.push(single);
  const many = field(body, "Checks");
  if (many !== undefined && many !== null) {
    if (!Array.isArray(many))
      return refuse(
        `Request decode failed: json: cannot unmarshal ${jsonType(many)} into Go struct field ServiceDefinition.Checks of type structs.CheckTypes`,
      );
    rawChecks.push(...many);
  }
  const serviceId = id.value || name.value;
  const checks: CheckDefinition[] = [];
  for (const [position, raw] of rawChecks.entries()) {
    const checkId =
      rawChecks.length === 1 ? `service:${serviceId}` : `service:${serviceId}:${position + 1}`;
    const check = decodeCheck(raw, checkId, name.value);
    if (!check.ok) return check;
    checks.push(check.value);
  }
  const passingWeight =
    isRecord(weights) && typeof field(weights, "Passing") === "number"
      ? (field(weights, "Passing") as number)
      : 1;
  const warningWeight =
    isRecord(weights) && typeof field(weights, "Warning") === "number"
      ? (field(weights, "Warning") as number)
      : 1;
  return {
    ok: true,
    value: {
      id: serviceId,
      name: name.value,
      address: address.value,
      port: port.value,
      tags: tags.value,
      meta: meta.value,
      weights: { Passing: passingWeight, Warning: warningWeight },
      checks,
    },
  };
}

function decodeCheck(
  raw: unknown,
  defaultId: string,
  serviceName: string,
): Decoded<CheckDefinition> {
  if (!isRecord(raw))
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(raw)} into Go value of type structs.CheckType`,
    );
  const durations: Record<string, number | undefined> = {};
  for (const key of ["Interval", "Timeout", "TTL", "DeregisterCriticalServiceAfter"]) {
    const value = field(raw, key);
    if (value === undefined || value === null) continue;
    const ms = parseGoDuration(value);
    if (ms === undefined)
      return refuse(`Request decode failed: time: invalid duration ${JSON.stringify(value)}`);
    durations[key] = ms;
  }
  const strings: Record<string, string> = {};
  for (const key of [
    "CheckID",
    "Name",
    "GRPC",
    "HTTP",
    "TCP",
    "Method",
    "Body",
    "Status",
    "Args",
    "Script",
    "UDP",
    "H2PING",
    "AliasService",
    "AliasNode",
  ]) {
    const value = field(raw, key);
    if (value === undefined || value === null) continue;
    if (key === "Args") {
      strings[key] = "args";
      continue;
    }
    if (typeof value !== "string")
      return refuse(
        `Request decode failed: json: cannot unmarshal ${jsonType(value)} into Go struct field CheckType.Check.${key} of type string`,
      );
    strings[key] = value;
  }
  const status = strings.Status;
  if (
    status !== undefined &&
    status !== "" &&
    !["passing", "warning", "critical"].includes(status)
  ) {
    return refuse("Status for checks must 'passing', 'warning', 'critical'");
  }
  const intervalMs = durations.Interval ?? 0;
  const kinds = (["GRPC", "HTTP", "TCP", "UDP", "H2PING", "Args", "Script"] as const).filter(
    (key) => (strings[key] ?? "") !== "",
  );
  const isAlias = (strings.AliasService ?? "") !== "" || (strings.AliasNode ?? "") !== "";
  const ttlMs = durations.TTL ?? 0;
  if (kinds.length === 0 && !isAlias && ttlMs <= 0)
    return refuse("Invalid check: check type is not valid");
  if (intervalMs > 0 && ttlMs > 0)
    return refuse("Invalid check: Interval and TTL cannot both be specified");
  if (kinds.length > 0 && intervalMs <= 0)
    return refuse(
      "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks",
    );
  const kind = kinds[0];
  if (kind !== "GRPC" && kind !== "HTTP" && kind !== "TCP") {
    // Valid for Consul, but this fake only runs the probes scalemesh uses.
    return refuse(
      `fake-consul runs GRPC, HTTP and TCP checks only; got ${kind ?? (isAlias ? "an alias" : "a TTL")} check`,
    );
  }
  const useTls = field(raw, kind === "GRPC" ? "GRPCUseTLS" : "TCPUseTLS");
  if (useTls !== undefined && typeof useTls !== "boolean")
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(useTls)} into Go struct field CheckType.Check.GRPCUseTLS of type bool`,
    );
  const header = field(raw, "Header");
  return {
    ok: true,
    value: {
      id: strings.CheckID || defaultId,
      name: strings.Name || `Service '${serviceName}' check`,
      type: kind === "GRPC" ? "grpc" : kind === "HTTP" ? "http" : "tcp",
      target: strings[kind] as string,
      useTls: useTls === true,
      method: strings.Method || "GET",
      header: isRecord(header)
        ? Object.fromEntries(
            Object.entries(header).map(([k, v]) => [
              k,
              Array.isArray(v) ? v.map(String) : [String(v)],
            ]),
          )
        : {},
      body: strings.Body,
      // Consul runs no check more often than once a second.
      intervalMs: Math.max(intervalMs, MIN_CHECK_INTERVAL_MS),
      timeoutMs:
        durations.Timeout !== undefined && durations.Timeout > 0
          ? durations.Timeout
          : DEFAULT_CHECK_TIMEOUT_MS,
      deregisterAfterMs:
        durations.DeregisterCriticalServiceAfter !== undefined &&
        durations.DeregisterCriticalServiceAfter > 0
          ? durations.DeregisterCriticalServiceAfter
          : undefined,
      status:
        status === "passing" || status === "warning" || status === "critical" ? status : undefined,
    },
  };
}

/** Consul's structs.ValidateServiceMetadata rules. */
function metaError(meta: Readonly<Record<string, string>>): string | undefined {
  const entries = Object.entries(meta);
  if (entries.length > 64) return `Node metadata cannot contain more than 64 key/value pairs`;
  for (const [key, value] of entries) {
    if (key === "") return "Key cannot be blank";
    if (!/^[a-zA-Z0-9_-]+$/.test(key)) return `Key contains invalid characters`;
    if (key.length > 128) return `Key is too long (limit: 128 characters)`;
    if (key.startsWith("consul-")) return `Key prefix 'consul-' is reserved for internal use`;
    if (value.length > 512) return `Value is too long (limit: 512 characters)`;
  }
  return undefined;
}

// ---- checks ----

interface CheckResult {
  readonly status: CheckStatus;
  readonly output: string;
}

/** Runs one check at its interval, the first run staggered within it as Consul does; returns the stop. */
function startCheckLoop(
  check: CheckDefinition,
  random: () => number,
  report: (result: CheckResult) => void,
): () => void {
  const stopping = new AbortController();
  const grpcClient = check.type === "grpc" ? createGrpcClient(check) : undefined;
  const run = async () => {
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(check.timeoutMs)]);
    const result = await probe(check, signal, grpcClient).catch((error: unknown) => ({
      status: "critical" as const,
      output: String(error),
    }));
    if (stopping.signal.aborted) return;
    report(result);
    timer = setTimeout(() => void run(), check.intervalMs);
  };
  let timer = setTimeout(() => void run(), random() * check.intervalMs);
  return () => {
    stopping.abort();
    clearTimeout(timer);
    grpcClient?.client.close();
  };
}

interface GrpcTarget {
  readonly client: grpc.Client;
  readonly service: string;
}

function createGrpcClient(check: CheckDefinition): GrpcTarget {
  // Consul's GRPC check target is host:port[/service].
  const slash = check.target.indexOf("/");
  const server = slash >= 0 ? check.target.slice(0, slash) : check.target;
  const service = slash >= 0 ? check.target.slice(slash + 1) : "";
  const credentials = check.useTls
    ? grpc.credentials.createSsl()
    : grpc.credentials.createInsecure();
  return { client: new grpc.Client(server, credentials), service };
}

function probe(
  check: CheckDefinition,
  signal: AbortSignal,
  grpcTarget: GrpcTarget | undefined,
): Promise<CheckResult> {
  switch (check.type) {
    case "grpc":
      return probeGrpc(check, grpcTarget as GrpcTarget);
    case "http":
      return probeHttp(check, signal);
    case "tcp":
      return probeTcp(check, signal);
    default: {
      const unreachable: never = check.type;
      throw new Error(`unknown check type ${String(unreachable)}`);
    }
  }
}

function probeGrpc(check: CheckDefinition, target: GrpcTarget): Promise<CheckResult> {
  const method = healthService.Check;
  if (method === undefined) throw new Error("grpc-health-check lacks grpc.health.v1.Health/Check");
  return new Promise((resolve) => {
    target.client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { service: target.service },
      new grpc.Metadata(),
      { deadline: Date.now() + check.timeoutMs },
      (error, response) => {
        if (error)
          return resolve({
            status: "critical",
            output: `gRPC check ${check.target}: failed with ${error.message}`,
          });
        const status = isRecord(response) ? response.status : undefined;
        resolve(
          status === "SERVING"
            ? { status: "passing", output: `gRPC check ${check.target}: success` }
            : {
                status: "critical",
                output: `gRPC check ${check.target}: status ${String(status)}`,
              },
        );
      },
    );
  });
}

async function probeHttp(check: CheckDefinition, signal: AbortSignal): Promise<CheckResult> {
  const headers = new Headers({
    "User-Agent": "Consul Health Check",
    Accept: "text/plain, text/*, */*",
  });
  for (const [name, values] of Object.entries(check.header))
    for (const value of values) headers.append(name, value);
  try {
    const response = await fetch(check.target, {
      method: check.method,
      headers,
      body: check.body,
      signal,
    });
    const text = (await response.text()).slice(0, 4096);
    const output = `HTTP ${check.method} ${check.target}: ${response.status} ${response.statusText} Output: ${text}`;
    // Consul: 2xx passing, 429 Too Many Requests warning, anything else critical.
    if (response.status >= 200 && response.status < 300) return { status: "passing", output };
    return { status: response.status === 429 ? "warning" : "critical", output };
  } catch (error) {
    return {
      status: "critical",
      output: `Get "${check.target}": ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

function probeTcp(check: CheckDefinition, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    const colon = check.target.lastIndexOf(":");
    const socket = connect({
      host: check.target.slice(0, colon).replace(/^\[|\]$/g, ""),
      port: Number(check.target.slice(colon + 1)),
      signal,
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve({ status: "passing", output: `TCP connect ${check.target}: Success` });
    });
    socket.once("error", (error) =>
      resolve({ status: "critical", output: `dial tcp ${check.target}: ${error.message}` }),
    );
  });
}

// ---- small helpers ----

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration ("1m30s", "500ms"); JSON numbers are nanoseconds, as in Consul's decoder. */
export function parseGoDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value / 1e6 : undefined;
  if (typeof value !== "string" || value === "") return undefined;
  if (value === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let totalMs = 0;
  let at = 0;
  while (at < value.length) {
    part.lastIndex = at;
    const match = part.exec(value);
    if (!match) return undefined;
    totalMs += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    at = part.lastIndex;
  }
  return totalMs;
}

function formatDuration(ms: number): string {
  return ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m0s` : `${ms / 1_000}s`;
}

function tokenOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers["x-consul-token"];
  if (typeof header === "string" && header !== "") return header;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
  if (bearer) return bearer[1];
  return query.get("token") ?? undefined;
}

/** Go's encoding/json matches field names case-insensitively, and Consul also accepts snake_case keys. */
function field(body: Readonly<Record<string, unknown>>, name: string): unknown {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(body))
    if (key.replace(/_/g, "").toLowerCase() === wanted) return value;
  return undefined;
}

function stringField(body: Readonly<Record<string, unknown>>, name: string): Decoded<string> {
  const value = field(body, name);
  if (value === undefined || value === null) return { ok: true, value: "" };
  if (typeof value !== "string")
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(value)} into Go struct field ServiceDefinition.${name} of type string`,
    );
  return { ok: true, value };
}

function intField(body: Readonly<Record<string, unknown>>, name: string): Decoded<number> {
  const value = field(body, name);
  if (value === undefined || value === null) return { ok: true, value: 0 };
  if (typeof value !== "number" || !Number.isInteger(value))
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(value)} into Go struct field ServiceDefinition.${name} of type int`,
    );
  return { ok: true, value };
}

function stringList(
  body: Readonly<Record<string, unknown>>,
  name: string,
): Decoded<readonly string[]> {
  const value = field(body, name);
  if (value === undefined || value === null) return { ok: true, value: [] };
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(value)} into Go struct field ServiceDefinition.${name} of type []string`,
    );
  }
  return { ok: true, value: value as string[] };
}

function stringMap(
  body: Readonly<Record<string, unknown>>,
  name: string,
): Decoded<Readonly<Record<string, string>>> {
  const value = field(body, name);
  if (value === undefined || value === null) return { ok: true, value: {} };
  if (!isRecord(value) || !Object.values(value).every((item) => typeof item === "string")) {
    return refuse(
      `Request decode failed: json: cannot unmarshal ${jsonType(value)} into Go struct field ServiceDefinition.${name} of type map[string]string`,
    );
  }
  return { ok: true, value: value as Record<string, string> };
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value === "object" ? "object" : typeof value;
}

function refuse(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}
