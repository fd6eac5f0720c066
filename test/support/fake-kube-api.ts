// A fake Kubernetes API server for tests of the k8s:// resolver: namespaced
// EndpointSlices (discovery.k8s.io/v1) and Services (v1) over plain HTTP,
// with the documented list and watch semantics the resolver relies on:
// - a list answers a List with metadata.resourceVersion;
// - ?watch=true&resourceVersion=N streams newline-delimited watch events
//   {"type","object"} for every change after N, each object carrying its new
//   resourceVersion; resourceVersion "" or "0" starts with ADDED events for
//   what exists now;
// - with a labelSelector, an object whose labels stop matching arrives as
//   DELETED (its old content) and one that starts matching as ADDED, as the
//   API server's watch cache does;
// - a resourceVersion older than the kept history is answered with an ERROR
//   event carrying a 410 Gone Status (reason Expired), then the stream ends;
// - timeoutSeconds ends the stream, after a BOOKMARK when
//   allowWatchBookmarks=true.
// Test hooks: change objects in-process, expire the history (410 Gone for
// every open and future watch from an old version), answer 403 Forbidden,
// stop answering, stop and restart on the same port, count requests.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { sendJson } from "./fake-http.js";

export interface FakeEndpointSlice {
  metadata: FakeObjectMeta;
  addressType: "IPv4" | "IPv6" | "FQDN";
  endpoints: FakeEndpoint[];
  ports?: FakeEndpointPort[] | null;
}

export interface FakeObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
}

export interface FakeEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
  zone?: string;
  nodeName?: string;
  hostname?: string;
}

export interface FakeEndpointPort {
  name?: string;
  port?: number | null;
  protocol?: string;
  appProtocol?: string;
}

export interface FakeKubeApi {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** A KubeConfig whose current context points at this server. */
  kubeConfig(): KubeConfig;
  /** Creates a slice (like POST); throws if it exists. Returns the stored object. */
  createSlice(namespace: string, slice: FakeEndpointSlice): FakeEndpointSlice;
  /** Replaces a slice (like PUT); throws if it does not exist. */
  updateSlice(namespace: string, slice: FakeEndpointSlice): FakeEndpointSlice;
  /** Deletes a slice; throws if it does not exist. */
  deleteSlice(namespace: string, name: string): void;
  /**
   * Forgets the history before the current resourceVersion, as an etcd
   * compaction does: open watches get an ERROR event with a 410 Gone Status
   * and are closed, and a watch from an older version gets the same.
   */
  expireHistory(): void;
  /** While true, every watch is answered with 410 Gone at once, however new its resourceVersion (a broken server). */
  setWatchesGone(isGone: boolean): void;
  /** While true, every request is refused with 403 Forbidden, as RBAC does. */
  setForbidden(isForbidden: boolean): void;
  /** While true, requests are accepted but never answered (a hung API server). */
  setUnresponsive(isUnresponsive: boolean): void;
  /** Requests received so far, answered or not. */
  readonly requests: number;
  /** Lists of endpointslices answered so far. */
  readonly listCalls: number;
  /** Watches of endpointslices started so far. */
  readonly watchCalls: number;
  /** Watch streams open now. */
  readonly openWatches: number;
  /** Closes the port and every connection (open watches end abruptly). */
  stop(): Promise<void>;
  /** Listens again on the same port, with the same objects; does nothing while listening. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface ResourceKind {
  readonly apiPrefix: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly group: string;
}

const RESOURCES: Record<string, ResourceKind> = {
  endpointslices: {
    apiPrefix: "/apis/discovery.k8s.io/v1",
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    group: "discovery.k8s.io",
  },
  services: { apiPrefix: "/api/v1", apiVersion: "v1", kind: "Service", group: "" },
};

type KubeObject = { metadata: FakeObjectMeta } & Record<string, unknown>;
type EventType = "ADDED" | "MODIFIED" | "DELETED";

interface StoredEvent {
  readonly resourceVersion: number;
  readonly type: EventType;
  readonly resource: string;
  readonly namespace: string;
  readonly object: KubeObject;
  /** The content before a MODIFIED event, to tell whether it left or entered a watcher's selector. */
  readonly previous?: KubeObject;
}

interface Watcher {
  readonly resource: string;
  readonly namespace: string;
  readonly selector: (labels: Record<string, string>) => boolean;
  readonly response: ServerResponse;
  /** Ends the stream cleanly, or cuts the connection when isAbrupt. */
  end(isAbrupt?: boolean): void;
}

class FakeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  let currentVersion = 1000;
  /** Watches from a version below this are answered with 410 Gone. */
  let oldestKeptVersion = 0;
  const history: StoredEvent[] = [];
  const store = new Map<string, Map<string, KubeObject>>(); // `${resource}/${namespace}` → name → object
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  let isForbidden = false;
  let areWatchesGone = false;
  let isUnresponsive = false;
  let requests = 0;
  let listCalls = 0;
  let watchCalls = 0;

  const bucket = (resource: string, namespace: string) => {
    const key = `${resource}/${namespace}`;
    let objects = store.get(key);
    if (!objects) store.set(key, (objects = new Map()));
    return objects;
  };

  const record = (
    type: EventType,
    resource: string,
    namespace: string,
    object: KubeObject,
    previous?: KubeObject,
  ) => {
    const event: StoredEvent = {
      resourceVersion: currentVersion,
      type,
      resource,
      namespace,
      object,
      ...(previous ? { previous } : {}),
    };
    history.push(event);
    for (const watcher of watchers) deliver(watcher, event);
  };

  const deliver = (watcher: Watcher, event: StoredEvent) => {
    if (watcher.resource !== event.resource || watcher.namespace !== event.namespace) return;
    const converted = asSeenThrough(event, watcher.selector);
    if (converted)
      writeEvent(watcher.response, converted.type, withKind(event.resource, converted.object));
  };

  const write = (
    resource: string,
    namespace: string,
    object: KubeObject,
    mode: "create" | "update",
  ): KubeObject => {
    const objects = bucket(resource, namespace);
    const name = object.metadata?.name;
    if (typeof name !== "string" || name === "")
      throw new FakeApiError(
        422,
        "Invalid",
        `${RESOURCES[resource]?.kind ?? resource} is invalid: metadata.name: Required value`,
      );
    const existing = objects.get(name);
    if (mode === "create" && existing)
      throw new FakeApiError(409, "AlreadyExists", `${resource} "${name}" already exists`);
    if (mode === "update" && !existing)
      throw new FakeApiError(404, "NotFound", `${resource} "${name}" not found`);
    const wanted = object.metadata.resourceVersion;
    if (
      mode === "update" &&
      wanted !== undefined &&
      wanted !== "" &&
      wanted !== existing?.metadata.resourceVersion
    ) {
      throw new FakeApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    currentVersion += 1;
    const { kind: _kind, apiVersion: _apiVersion, ...content } = structuredClone(object);
    const stored: KubeObject = {
      ...content,
      metadata: {
        ...content.metadata,
        namespace,
        uid: existing?.metadata.uid ?? randomUUID(),
        creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: String(currentVersion),
      },
    };
    objects.set(name, stored);
    record(existing ? "MODIFIED" : "ADDED", resource, namespace, stored, existing);
    return stored;
  };

  const remove = (resource: string, namespace: string, name: string): KubeObject => {
    const objects = bucket(resource, namespace);
    const existing = objects.get(name);
    if (!existing) throw new FakeApiError(404, "NotFound", `${resource} "${name}" not found`);
    objects.delete(name);
    currentVersion += 1;
    const deleted: KubeObject = {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(currentVersion) },
    };
    record("DELETED", resource, namespace, deleted);
    return deleted;
  };

  const startWatch = (
    resource: string,
    namespace: string,
    query: URLSearchParams,
    response: ServerResponse,
  ) => {
    const selector = parseLabelSelector(query.get("labelSelector") ?? "");
    const fromText = query.get("resourceVersion") ?? "";
    const from = fromText === "" || fromText === "0" ? undefined : Number(fromText);
    if (from !== undefined && !Number.isInteger(from))
      throw new FakeApiError(400, "BadRequest", `resourceVersion: Invalid value: "${fromText}"`);
    const timeoutSec = Number(query.get("timeoutSeconds") ?? "0");
    const wantsBookmarks = isTrue(query.get("allowWatchBookmarks"));
    if (resource === "endpointslices") watchCalls += 1;

    response.writeHead(200, {
      "content-type": "application/json",
      "cache-control": "no-cache, private",
    });
    response.flushHeaders();
    if (areWatchesGone || (from !== undefined && from < oldestKeptVersion)) {
      writeEvent(response, "ERROR", goneStatus(from ?? 0, currentVersion));
      response.end();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const watcher: Watcher = {
      resource,
      namespace,
      selector,
      response,
      end: (isAbrupt = false) => {
        if (!watchers.delete(watcher)) return;
        clearTimeout(timer);
        if (isAbrupt) response.destroy();
        else response.end();
      },
    };
    if (from === undefined) {
      for (const object of sortedByName(bucket(resource, namespace))) {
        if (selector(object.metadata.labels ?? {}))
          writeEvent(response, "ADDED", withKind(resource, object));
      }
    } else {
      for (const event of history) if (event.resourceVersion > from) deliver(watcher, event);
    }
    watchers.add(watcher);
    response.on("close", () => watcher.end());
    if (timeoutSec > 0) {
      timer = setTimeout(() => {
        if (wantsBookmarks)
          writeEvent(response, "BOOKMARK", {
            kind: RESOURCES[resource]?.kind,
            apiVersion: RESOURCES[resource]?.apiVersion,
            metadata: { resourceVersion: String(currentVersion) },
          });
        watcher.end();
      }, timeoutSec * 1000);
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://fake");
    const match =
      /^(\/api\/v1|\/apis\/discovery\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(endpointslices|services)(?:\/([^/]+))?$/.exec(
        url.pathname,
      );
    const resource = match?.[3] ?? "";
    const kind = RESOURCES[resource];
    if (!match || !kind || kind.apiPrefix !== match[1])
      throw new FakeApiError(404, "NotFound", "the server could not find the requested resource");
    const namespace = decodeURIComponent(match[2] as string);
    const name = match[4] === undefined ? undefined : decodeURIComponent(match[4]);
    const isWatch = isTrue(url.searchParams.get("watch"));
    const verb = verbOf(request.method ?? "GET", name, isWatch);
    if (isForbidden) {
      const group = kind.group ? `.${kind.group}` : "";
      throw new FakeApiError(
        403,
        "Forbidden",
        `${resource}${group} is forbidden: User "system:serviceaccount:${namespace}:default" cannot ${verb} resource "${resource}" in API group "${kind.group}" in the namespace "${namespace}"`,
      );
    }
    switch (verb) {
      case "watch":
        return startWatch(resource, namespace, url.searchParams, response);
      case "list": {
        if (resource === "endpointslices") listCalls += 1;
        const selector = parseLabelSelector(url.searchParams.get("labelSelector") ?? "");
        const items = sortedByName(bucket(resource, namespace)).filter((object) =>
          selector(object.metadata.labels ?? {}),
        );
        return sendJson(response, 200, {
          kind: `${kind.kind}List`,
          apiVersion: kind.apiVersion,
          metadata: { resourceVersion: String(currentVersion) },
          items,
        });
      }
      case "get": {
        const object = bucket(resource, namespace).get(name ?? "");
        if (!object) throw new FakeApiError(404, "NotFound", `${resource} "${name}" not found`);
        return sendJson(response, 200, withKind(resource, object));
      }
      case "create":
        return sendJson(
          response,
          201,
          withKind(resource, write(resource, namespace, await readObject(request), "create")),
        );
      case "update": {
        const object = await readObject(request);
        if (object.metadata?.name !== name)
          throw new FakeApiError(
            400,
            "BadRequest",
            `the name of the object (${object.metadata?.name}) does not match the name on the URL (${name})`,
          );
        return sendJson(
          response,
          200,
          withKind(resource, write(resource, namespace, object, "update")),
        );
      }
      case "delete": {
        const deleted = remove(resource, namespace, name ?? "");
        // Services answer with the object, most other kinds with a Success Status.
        if (resource === "services") return sendJson(response, 200, withKind(resource, deleted));
        return sendJson(response, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, group: kind.group, kind: resource, uid: deleted.metadata.uid },
        });
      }
      default:
        throw new FakeApiError(
          405,
          "MethodNotAllowed",
          `the server does not allow this method on the requested resource`,
        );
    }
  };

  const server: Server = createServer((request, response) => {
    requests += 1;
    if (isUnresponsive) return;
    handle(request, response).catch((error: unknown) => {
      const failure =
        error instanceof FakeApiError
          ? error
          : new FakeApiError(500, "InternalError", String(error));
      if (response.headersSent) return void response.end();
      sendJson(response, failure.code, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: failure.message,
        reason: failure.reason,
        code: failure.code,
      });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        const address = server.address();
        port = typeof address === "object" && address ? address.port : port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const watcher of [...watchers]) watcher.end(true);
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  await listen();
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    kubeConfig: () => fakeKubeConfig(url),
    createSlice: (namespace, slice) =>
      write("endpointslices", namespace, toObject(slice), "create") as unknown as FakeEndpointSlice,
    updateSlice: (namespace, slice) =>
      write("endpointslices", namespace, toObject(slice), "update") as unknown as FakeEndpointSlice,
    deleteSlice: (namespace, name) => void remove("endpointslices", namespace, name),
    expireHistory: () => {
      // Like a compaction at the current revision: watching from it still
      // works (a fresh list's version is never too old), from anything older not.
      oldestKeptVersion = currentVersion;
      history.length = 0;
      for (const watcher of [...watchers]) {
        writeEvent(watcher.response, "ERROR", goneStatus(currentVersion - 1, currentVersion));
        watcher.end();
      }
    },
    setWatchesGone: (value) => void (areWatchesGone = value),
    setForbidden: (value) => void (isForbidden = value),
    setUnresponsive: (value) => void (isUnresponsive = value),
    get requests() {
      return requests;
    },
    get listCalls() {
      return listCalls;
    },
    get watchCalls() {
      return watchCalls;
    },
    get openWatches() {
      return watchers.size;
    },
    stop,
    start: listen,
    close: stop,
  };
}

/** A KubeConfig for a plain-HTTP API server (client-node allows http:// only with skipTLSVerify). */
export function fakeKubeConfig(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "fake", server, skipTLSVerify: true }],
    users: [{ name: "tester" }],
    contexts: [{ name: "fake", cluster: "fake", user: "tester", namespace: "default" }],
    currentContext: "fake",
  });
  return kubeConfig;
}

function verbOf(method: string, name: string | undefined, isWatch: boolean): string {
  if (method === "GET") return isWatch ? "watch" : name === undefined ? "list" : "get";
  if (method === "POST" && name === undefined) return "create";
  if (method === "PUT" && name !== undefined) return "update";
  if (method === "DELETE" && name !== undefined) return "delete";
  return method.toLowerCase();
}

/** How a watcher with this selector sees a change (the watch cache's rules), or undefined when it does not see it. */
function asSeenThrough(
  event: StoredEvent,
  selector: Watcher["selector"],
): { type: EventType; object: KubeObject } | undefined {
  const matches = (object: KubeObject | undefined) =>
    object !== undefined && selector(object.metadata.labels ?? {});
  if (event.type !== "MODIFIED")
    return matches(event.object) ? { type: event.type, object: event.object } : undefined;
  const isIn = matches(event.object);
  const wasIn = matches(event.previous);
  if (isIn) return { type: wasIn ? "MODIFIED" : "ADDED", object: event.object };
  if (wasIn && event.previous) {
    return {
      type: "DELETED",
      object: {
        ...event.previous,
        metadata: { ...event.previous.metadata, resourceVersion: String(event.resourceVersion) },
      },
    };
  }
  return undefined;
}

/** Equality-based selectors (a=b, a==b, a!=b) and existence (a, !a), comma-separated; set-based ones are refused. */
function parseLabelSelector(text: string): (labels: Record<string, string>) => boolean {
  const terms = text
    .split(",")
    .map((term) => term.trim())
    .filter((term) => term !== "")
    .map((term): ((labels: Record<string, string>) => boolean) => {
      if (/[()]|\s(in|notin)\s/.test(term))
        throw new FakeApiError(
          400,
          "BadRequest",
          `unable to parse requirement: the fake API supports equality-based selectors only: "${term}"`,
        );
      const match = /^([^!=]+?)\s*(!=|==|=)\s*(.*)$/.exec(term);
      if (match) {
        const [, key, operator, value] = match as unknown as [string, string, string, string];
        return operator === "!="
          ? (labels) => labels[key] !== value
          : (labels) => labels[key] === value;
      }
      if (term.startsWith("!")) return (labels) => !(term.slice(1) in labels);
      return (labels) => term in labels;
    });
  return (labels) => terms.every((matches) => matches(labels));
}

/** strconv.ParseBool's true values, which is what the API server accepts for watch= and allowWatchBookmarks=. */
function isTrue(value: string | null): boolean {
  return value !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(value);
}

function goneStatus(requested: number, current: number) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `too old resource version: ${requested} (${current})`,
    reason: "Expired",
    code: 410,
  };
}

function withKind(resource: string, object: KubeObject): Record<string, unknown> {
  return {
    kind: RESOURCES[resource]?.kind,
    apiVersion: RESOURCES[resource]?.apiVersion,
    ...object,
  };
}

function sortedByName(objects: Map<string, KubeObject>): KubeObject[] {
  return [...objects.values()].sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  );
}

function toObject(slice: FakeEndpointSlice): KubeObject {
  return structuredClone(slice) as unknown as KubeObject;
}

function writeEvent(response: ServerResponse, type: string, object: unknown) {
  if (!response.writableEnded) response.write(`${JSON.stringify({ type, object })}\n`);
}

async function readObject(request: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new FakeApiError(400, "BadRequest", "the request body is not JSON");
  }
  if (
    typeof body !== "object" ||
    body === null ||
    typeof (body as { metadata?: unknown }).metadata !== "object"
  ) {
    throw new FakeApiError(422, "Invalid", "the object has no metadata");
  }
  return body as KubeObject;
}
