// A fake Docker Engine for tests of the docker worker provider: the Engine
// API paths dockerode calls, over plain HTTP on 127.0.0.1, with the status
// codes and {"message"} bodies of the real engine (checked against dockerd):
// - GET|HEAD /_ping answers "OK";
// - POST /containers/create?name= answers 201 {Id, Warnings}; 404 "No such
//   image: X" for an image not pulled, 409 "Conflict. The container name
//   \"/X\" is already in use by container \"ID\". ..." for a taken name,
//   400 "Invalid container name (X), ..." for a bad one;
// - POST /containers/{id}/start answers 204, 304 when running, 404 "network
//   X not found" for an unknown NetworkMode (the engine checks it at start);
// - POST /containers/{id}/stop?t= answers 204 (the container exits with its
//   stop exit code), 304 when not running;
// - DELETE /containers/{id}?v=&force= answers 204, 409 for a running or
//   paused container without force;
// - GET /containers/json?all=&filters= lists newest first, running only
//   unless all; filters is JSON map[string][]string (or the older
//   map[string]map[string]bool) with label ("k" or "k=v"), name, id, status;
//   an unknown filter is 400 "invalid filter 'x'";
// - GET /containers/{id}/json inspects (State with Health when the container
//   has a healthcheck; Config; HostConfig; Name "/x");
// - POST /images/create?fromImage=&tag= pulls from a fake registry: a 200
//   stream of JSON progress lines, or for a private image without (or with
//   wrong) X-Registry-Auth the registry's 404 "pull access denied" / 401
//   "unauthorized: incorrect username or password"; an image set to fail
//   midway streams an {"errorDetail"} line after some progress, as the
//   engine does once it has begun to answer;
// - any path may carry a version prefix (/v1.44/...); above 1.47 is 400
//   "client version X is too new. Maximum supported API version is 1.47";
//   a container is named by id, unique id prefix or name.
// Test hooks: make a container exit (with a code, OOM-killed), die, pause or
// report a health status; fail the next calls of an operation; read the
// containers, the requests (path, query, version) and the pulls (with the
// credentials they carried).
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Dockerode from "dockerode";
import { isRecord, readBody } from "./fake-http.js";

export const FAKE_ENGINE_MAX_API_VERSION = "1.47";
const ZERO_TIME = "0001-01-01T00:00:00Z";
const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const BUILT_IN_NETWORKS = ["default", "bridge", "host", "none"];

export type FakeContainerStatus =
  "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
export type FakeHealthStatus = "starting" | "healthy" | "unhealthy";
export type FakeOperation =
  "ping" | "create" | "start" | "stop" | "remove" | "list" | "inspect" | "pull";

export interface FakeImageOptions {
  /** The image has a HEALTHCHECK: its containers start with health "starting". */
  readonly hasHealthcheck?: boolean;
  /** The exit code a container of this image gives on `stop` (a graceful agent: 0; `sleep` as PID 1: 137). */
  readonly stopExitCode?: number;
}

export interface FakeRemoteImageOptions extends FakeImageOptions {
  /** A private image: pulls need these credentials in X-Registry-Auth. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** The pull streams some progress, then this error as an {"errorDetail"} line (status stays 200). */
  readonly failMidway?: string;
}

export interface FakeContainer {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly createdMs: number;
  readonly env: readonly string[];
  readonly cmd: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly hostConfig: Readonly<Record<string, unknown>>;
  readonly hasHealthcheck: boolean;
  readonly status: FakeContainerStatus;
  readonly exitCode: number;
  readonly isOomKilled: boolean;
  readonly health: FakeHealthStatus | undefined;
  /** The t of every stop request it received. */
  readonly stopTimeoutsSec: readonly (number | undefined)[];
}

export interface FakeRequest {
  readonly method: string;
  /** Without the version prefix. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** "1.44" for /v1.44/..., undefined without a prefix. */
  readonly version: string | undefined;
}

export interface FakePull {
  readonly image: string;
  /** The decoded X-Registry-Auth, when one was sent. */
  readonly auth: Readonly<Record<string, unknown>> | undefined;
  readonly outcome: "pulled" | "denied" | "unauthorized" | "failed midway";
}

export interface FakeDockerEngine {
  readonly port: number;
  /** A dockerode client for this engine (version: e.g. "v1.44" to send versioned paths). */
  docker(options?: { version?: string }): Dockerode;
  /** An image present locally, as if pulled or built. */
  addImage(reference: string, options?: FakeImageOptions): void;
  /** An image the fake registry serves to a pull. */
  addRemoteImage(reference: string, options?: FakeRemoteImageOptions): void;
  hasImage(reference: string): boolean;
  addNetwork(name: string): void;
  /** A container the test makes directly (another tool's, or one left from before). */
  addContainer(spec: {
    name: string;
    image: string;
    labels?: Record<string, string>;
    status?: "created" | "running" | "exited";
    exitCode?: number;
  }): FakeContainer;
  containers(): readonly FakeContainer[];
  container(idOrName: string): FakeContainer | undefined;
  /** The main process ends: status exited with this code. */
  exitContainer(idOrName: string, exitCode: number, options?: { isOomKilled?: boolean }): void;
  /** The engine could not tear the container down: status dead. */
  killToDead(idOrName: string): void;
  pauseContainer(idOrName: string): void;
  setHealth(idOrName: string, health: FakeHealthStatus): void;
  /**
   * After `after` more calls of `operation` succeed (default 0), the next
   * `times` (default 1) answer this status and {"message"}, as the engine
   * does when it fails.
   */
  failNext(
    operation: FakeOperation,
    failure: { status: number; message: string },
    options?: { times?: number; after?: number },
  ): void;
  readonly requests: readonly FakeRequest[];
  readonly pulls: readonly FakePull[];
  close(): Promise<void>;
}

interface ImageRecord {
  readonly id: string;
  readonly options: FakeRemoteImageOptions;
}

interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  createdMs: number;
  config: {
    Env: string[];
    Cmd: string[];
    Image: string;
    Labels: Record<string, string>;
    Healthcheck?: unknown;
  };
  hostConfig: Record<string, unknown>;
  hasHealthcheck: boolean;
  stopExitCode: number;
  status: FakeContainerStatus;
  exitCode: number;
  isOomKilled: boolean;
  error: string;
  pid: number;
  startedMs: number | undefined;
  finishedMs: number | undefined;
  health: FakeHealthStatus | undefined;
  failingStreak: number;
  stopTimeoutsSec: (number | undefined)[];
}

class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeDockerEngine(
  options: { now?: () => number } = {},
): Promise<FakeDockerEngine> {
  const now = options.now ?? Date.now;
  const localImages = new Map<string, ImageRecord>();
  const remoteImages = new Map<string, ImageRecord>();
  const networks = new Set(BUILT_IN_NETWORKS);
  const containers = new Map<string, ContainerRecord>();
  // Per operation, what its next calls do: undefined lets one through.
  const failures = new Map<FakeOperation, ({ status: number; message: string } | undefined)[]>();
  const requests: FakeRequest[] = [];
  const pulls: FakePull[] = [];
  let nextPid = 4000;

  const find = (idOrName: string): ContainerRecord | undefined => {
    const name = idOrName.replace(/^\//, "");
    const exact = containers.get(idOrName) ?? [...containers.values()].find((c) => c.name === name);
    if (exact) return exact;
    const byPrefix = [...containers.values()].filter((c) => c.id.startsWith(idOrName));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  };
  const mustFind = (idOrName: string): ContainerRecord => {
    const found = find(idOrName);
    if (!found) throw new EngineError(404, `No such container: ${idOrName}`);
    return found;
  };
  const hookFind = (idOrName: string): ContainerRecord => {
    const found = find(idOrName);
    if (!found) throw new Error(`fake docker engine: no container ${idOrName}`);
    return found;
  };

  const runContainer = (c: ContainerRecord) => {
    c.status = "running";
    c.pid = nextPid++;
    c.startedMs = now();
    c.exitCode = 0;
    c.isOomKilled = false;
    c.health = c.hasHealthcheck ? "starting" : undefined;
    c.failingStreak = 0;
  };
  const endContainer = (c: ContainerRecord, status: "exited" | "dead", exitCode: number) => {
    c.status = status;
    c.exitCode = exitCode;
    c.pid = 0;
    c.finishedMs = now();
  };

  const newContainer = (name: string, image: string, body: CreateBody): ContainerRecord => {
    const imageRecord = localImages.get(normalizeReference(image));
    if (!imageRecord) throw new EngineError(404, `No such image: ${image}`);
    const hasHealthcheck =
      imageRecord.options.hasHealthcheck === true || body.Healthcheck !== undefined;
    const record: ContainerRecord = {
      id: randomBytes(32).toString("hex"),
      name,
      image,
      imageId: imageRecord.id,
      createdMs: now(),
      config: {
        Env: body.Env ?? [],
        Cmd: body.Cmd ?? [],
        Image: image,
        Labels: body.Labels ?? {},
        ...(body.Healthcheck !== undefined ? { Healthcheck: body.Healthcheck } : {}),
      },
      hostConfig: {
        NetworkMode: "default",
        RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
        ...body.HostConfig,
      },
      hasHealthcheck,
      stopExitCode: imageRecord.options.stopExitCode ?? 0,
      status: "created",
      exitCode: 0,
      isOomKilled: false,
      error: "",
      pid: 0,
      startedMs: undefined,
      finishedMs: undefined,
      health: undefined,
      failingStreak: 0,
      stopTimeoutsSec: [],
    };
    containers.set(record.id, record);
    return record;
  };

  const create = (query: URLSearchParams, body: unknown): unknown => {
    if (!isRecord(body) || Object.keys(body).length === 0)
      throw new EngineError(400, "Config cannot be empty in order to create a container");
    const spec = body as CreateBody;
    const name = query.get("name") ?? randomName();
    if (!CONTAINER_NAME.test(name))
      throw new EngineError(
        400,
        `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    const bare = name.replace(/^\//, "");
    const taken = [...containers.values()].find((c) => c.name === bare);
    if (taken)
      throw new EngineError(
        409,
        `Conflict. The container name "/${bare}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    if (typeof spec.Image !== "string" || spec.Image === "")
      throw new EngineError(400, "No command specified");
    return { Id: newContainer(bare, spec.Image, spec).id, Warnings: [] };
  };

  const start = (c: ContainerRecord): number => {
    if (c.status === "running" || c.status === "paused") return 304;
    const network =
      typeof c.hostConfig.NetworkMode === "string" ? c.hostConfig.NetworkMode : "default";
    if (!networks.has(network)) throw new EngineError(404, `network ${network} not found`);
    runContainer(c);
    return 204;
  };

  const stop = (c: ContainerRecord, query: URLSearchParams): number => {
    const t = query.get("t");
    c.stopTimeoutsSec.push(t === null ? undefined : Number(t));
    if (c.status !== "running" && c.status !== "paused" && c.status !== "restarting") return 304;
    endContainer(c, "exited", c.stopExitCode);
    return 204;
  };

  const remove = (c: ContainerRecord, query: URLSearchParams): number => {
    if (!isTrue(query.get("force"))) {
      if (c.status === "paused")
        throw new EngineError(
          409,
          `cannot remove container "/${c.name}": container is paused and must be unpaused first`,
        );
      if (c.status === "running" || c.status === "restarting") {
        throw new EngineError(
          409,
          `cannot remove container "/${c.name}": container is ${c.status}: stop the container before removing or force remove`,
        );
      }
    }
    containers.delete(c.id);
    return 204;
  };

  const list = (query: URLSearchParams): unknown[] => {
    const filters = parseFilters(query.get("filters"));
    const isAll = isTrue(query.get("all"));
    return [...containers.values()]
      .filter(
        (c) =>
          isAll || c.status === "running" || c.status === "paused" || c.status === "restarting",
      )
      .filter((c) => matchesFilters(c, filters))
      .sort((a, b) => b.createdMs - a.createdMs)
      .map((c) => summaryOf(c, now()));
  };

  const pull = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void => {
    const fromImage = query.get("fromImage") ?? "";
    const tag = query.get("tag") ?? "";
    const reference = normalizeReference(tag ? `${fromImage}:${tag}` : fromImage);
    const auth = decodeRegistryAuth(req.headers["x-registry-auth"]);
    const remote = remoteImages.get(reference);
    const { registry, path, tag: refTag } = splitReference(reference);
    const credentials = remote?.options.credentials;
    const isAuthorized =
      !credentials ||
      (auth !== undefined && (auth.username !== undefined || auth.password !== undefined));
    if (!remote || !isAuthorized) {
      pulls.push({ image: reference, auth, outcome: "denied" });
      throw new EngineError(
        404,
        `pull access denied for ${fromImage}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      );
    }
    if (
      credentials &&
      (auth?.username !== credentials.username || auth?.password !== credentials.password)
    ) {
      pulls.push({ image: reference, auth, outcome: "unauthorized" });
      throw new EngineError(
        401,
        `Head "https://${registry}/v2/${path}/manifests/${refTag}": unauthorized: incorrect username or password`,
      );
    }
    const layer = remote.id.slice(7, 19);
    const lines: unknown[] = [
      { status: `Pulling from ${path}`, id: refTag },
      { status: "Pulling fs layer", progressDetail: {}, id: layer },
      {
        status: "Downloading",
        progressDetail: { current: 512, total: 1024 },
        progress: "[=========================>                         ]     512B/1.024kB",
        id: layer,
      },
    ];
    if (remote.options.failMidway !== undefined) {
      pulls.push({ image: reference, auth, outcome: "failed midway" });
      lines.push({
        errorDetail: { message: remote.options.failMidway },
        error: remote.options.failMidway,
      });
    } else {
      pulls.push({ image: reference, auth, outcome: "pulled" });
      lines.push(
        { status: "Download complete", progressDetail: {}, id: layer },
        { status: "Pull complete", progressDetail: {}, id: layer },
        { status: `Digest: sha256:${remote.id.slice(7)}` },
        { status: `Status: Downloaded newer image for ${tag ? `${fromImage}:${tag}` : fromImage}` },
      );
      localImages.set(reference, remote);
    }
    res.writeHead(200, { ...ENGINE_HEADERS, "Content-Type": "application/json" });
    // One line per write, as the engine flushes each progress message.
    for (const line of lines) res.write(`${JSON.stringify(line)}\r\n`);
    res.end();
  };

  const takeFailure = (operation: FakeOperation) => {
    const queue = failures.get(operation);
    const next = queue?.shift();
    if (next) throw new EngineError(next.status, next.message);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake");
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
    const version = versioned?.[1];
    const path = versioned?.[2] ?? url.pathname;
    const method = req.method ?? "GET";
    requests.push({ method, path, query: Object.fromEntries(url.searchParams), version });
    if (version !== undefined && compareVersions(version, FAKE_ENGINE_MAX_API_VERSION) > 0) {
      throw new EngineError(
        400,
        `client version ${version} is too new. Maximum supported API version is ${FAKE_ENGINE_MAX_API_VERSION}`,
      );
    }
    const body = await readBody(req);
    const q = url.searchParams;
    const container = /^\/containers\/([^/]+)(\/(start|stop|json))?$/.exec(path);

    if (path === "/_ping" && (method === "GET" || method === "HEAD")) {
      takeFailure("ping");
      res.writeHead(200, { ...ENGINE_HEADERS, "Content-Type": "text/plain; charset=utf-8" });
      res.end(method === "HEAD" ? undefined : "OK");
      return;
    }
    if (path === "/containers/create" && method === "POST") {
      takeFailure("create");
      return sendJson(res, 201, create(q, parseJson(body)));
    }
    if (path === "/containers/json" && method === "GET") {
      takeFailure("list");
      return sendJson(res, 200, list(q));
    }
    if (path === "/images/create" && method === "POST") {
      takeFailure("pull");
      return pull(req, res, q);
    }
    if (container && container[1] !== "create" && container[1] !== "json") {
      const idOrName = decodeURIComponent(container[1] ?? "");
      const action = container[3];
      if (action === "json" && method === "GET") {
        takeFailure("inspect");
        return sendJson(res, 200, inspectOf(mustFind(idOrName)));
      }
      if (action === "start" && method === "POST") {
        takeFailure("start");
        return sendEmpty(res, start(mustFind(idOrName)));
      }
      if (action === "stop" && method === "POST") {
        takeFailure("stop");
        return sendEmpty(res, stop(mustFind(idOrName), q));
      }
      if (action === undefined && method === "DELETE") {
        takeFailure("remove");
        return sendEmpty(res, remove(mustFind(idOrName), q));
      }
    }
    throw new EngineError(404, "page not found");
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof EngineError) sendJson(res, error.status, { message: error.message });
      else sendJson(res, 500, { message: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const addImage = (
    reference: string,
    imageOptions: FakeRemoteImageOptions = {},
    into = localImages,
  ) => {
    into.set(normalizeReference(reference), {
      id: `sha256:${randomBytes(32).toString("hex")}`,
      options: imageOptions,
    });
  };

  return {
    port,
    docker: (dockerOptions = {}) =>
      new Dockerode({ host: "127.0.0.1", port, protocol: "http", ...dockerOptions }),
    addImage: (reference, imageOptions) => addImage(reference, imageOptions),
    addRemoteImage: (reference, imageOptions) => addImage(reference, imageOptions, remoteImages),
    hasImage: (reference) => localImages.has(normalizeReference(reference)),
    addNetwork: (name) => void networks.add(name),
    addContainer: (spec) => {
      if (!localImages.has(normalizeReference(spec.image))) addImage(spec.image);
      const record = newContainer(spec.name, spec.image, {
        Labels: spec.labels ?? {},
        Cmd: ["sleep", "3600"],
      });
      if (spec.status === "running" || spec.status === "exited") runContainer(record);
      if (spec.status === "exited") endContainer(record, "exited", spec.exitCode ?? 0);
      return viewOf(record);
    },
    containers: () => [...containers.values()].map(viewOf),
    container: (idOrName) => {
      const found = find(idOrName);
      return found ? viewOf(found) : undefined;
    },
    exitContainer: (idOrName, exitCode, exitOptions = {}) => {
      const c = hookFind(idOrName);
      endContainer(c, "exited", exitCode);
      c.isOomKilled = exitOptions.isOomKilled === true;
    },
    killToDead: (idOrName) => {
      const c = hookFind(idOrName);
      endContainer(c, "dead", 137);
      c.error = "driver failed to remove root filesystem";
    },
    pauseContainer: (idOrName) => void (hookFind(idOrName).status = "paused"),
    setHealth: (idOrName, health) => {
      const c = hookFind(idOrName);
      if (!c.hasHealthcheck)
        throw new Error(`fake docker engine: container ${idOrName} has no healthcheck`);
      c.health = health;
      c.failingStreak = health === "unhealthy" ? 3 : 0;
    },
    failNext: (operation, failure, failOptions = {}) => {
      const queue = failures.get(operation) ?? [];
      for (let i = 0; i < (failOptions.after ?? 0); i += 1) queue.push(undefined);
      for (let i = 0; i < (failOptions.times ?? 1); i += 1) queue.push(failure);
      failures.set(operation, queue);
    },
    requests,
    pulls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

interface CreateBody {
  Image?: unknown;
  Env?: string[];
  Cmd?: string[];
  Labels?: Record<string, string>;
  Healthcheck?: unknown;
  HostConfig?: Record<string, unknown>;
}

const ENGINE_HEADERS = {
  "Api-Version": FAKE_ENGINE_MAX_API_VERSION,
  "Docker-Experimental": "false",
  Ostype: "linux",
  Server: "Docker/27.5.1 (linux)",
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // The engine ends every JSON answer with a newline (Go's json.Encoder).
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...ENGINE_HEADERS,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, ENGINE_HEADERS);
  res.end();
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EngineError(
      400,
      `invalid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Go's httputils.BoolValue: anything but "", "0", "no", "false" and "none" is true. */
function isTrue(value: string | null): boolean {
  return value !== null && !["", "0", "no", "false", "none"].includes(value.trim().toLowerCase());
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** "busybox" → "busybox:latest"; "docker.io/library/busybox:1.36" → "busybox:1.36". */
function normalizeReference(reference: string): string {
  let ref = reference.replace(/^docker\.io\/library\//, "").replace(/^docker\.io\//, "");
  const lastSlash = ref.lastIndexOf("/");
  if (!ref.includes("@") && !ref.slice(lastSlash + 1).includes(":")) ref = `${ref}:latest`;
  return ref;
}

/** The registry host, repository path and tag of a normalized reference, as a pull names them in its errors. */
function splitReference(reference: string): { registry: string; path: string; tag: string } {
  const at = reference.lastIndexOf(":");
  const repository = reference.slice(0, at);
  const tag = reference.slice(at + 1);
  const first = repository.split("/")[0] ?? "";
  const hasRegistry =
    repository.includes("/") &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return { registry: first, path: repository.slice(first.length + 1), tag };
  return {
    registry: "registry-1.docker.io",
    path: repository.includes("/") ? repository : `library/${repository}`,
    tag,
  };
}

/** X-Registry-Auth is base64url JSON; the engine ignores one it cannot decode (an anonymous pull). */
function decodeRegistryAuth(
  header: string | string[] | undefined,
): Record<string, unknown> | undefined {
  if (typeof header !== "string" || header === "") return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as unknown;
    return isRecord(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

type Filters = Map<string, string[]>;

function parseFilters(text: string | null): Filters {
  const filters: Filters = new Map();
  if (text === null || text === "") return filters;
  const parsed = parseJson(text);
  if (!isRecord(parsed)) throw new EngineError(400, "invalid filter: expected a JSON object");
  for (const [key, value] of Object.entries(parsed)) {
    if (!["label", "name", "id", "status"].includes(key))
      throw new EngineError(400, `invalid filter '${key}'`);
    // map[string][]string, or the older map[string]map[string]bool.
    const values = Array.isArray(value)
      ? value.map(String)
      : isRecord(value)
        ? Object.keys(value).filter((k) => value[k] === true)
        : [];
    filters.set(key, values);
  }
  return filters;
}

function matchesFilters(c: ContainerRecord, filters: Filters): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const matches = (value: string): boolean => {
      switch (key) {
        case "label": {
          const eq = value.indexOf("=");
          if (eq < 0) return value in c.config.Labels;
          return c.config.Labels[value.slice(0, eq)] === value.slice(eq + 1);
        }
        case "name":
          return new RegExp(value.replace(/^\//, "")).test(c.name);
        case "id":
          return c.id.startsWith(value);
        case "status":
          return c.status === value;
        default:
          return false;
      }
    };
    // Several labels must all match; several values of another filter are alternatives.
    const isMatch = key === "label" ? values.every(matches) : values.some(matches);
    if (!isMatch) return false;
  }
  return true;
}

function viewOf(c: ContainerRecord): FakeContainer {
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    createdMs: c.createdMs,
    env: [...c.config.Env],
    cmd: [...c.config.Cmd],
    labels: { ...c.config.Labels },
    hostConfig: { ...c.hostConfig },
    hasHealthcheck: c.hasHealthcheck,
    status: c.status,
    exitCode: c.exitCode,
    isOomKilled: c.isOomKilled,
    health: c.health,
    stopTimeoutsSec: [...c.stopTimeoutsSec],
  };
}

function timeOf(ms: number | undefined): string {
  return ms === undefined ? ZERO_TIME : new Date(ms).toISOString();
}

/** The Status text of `docker ps`, e.g. "Up 3 seconds (healthy)", "Exited (1) 2 minutes ago". */
function statusTextOf(c: ContainerRecord, nowMs: number): string {
  switch (c.status) {
    case "created":
      return "Created";
    case "running": {
      const health =
        c.health === undefined
          ? ""
          : c.health === "starting"
            ? " (health: starting)"
            : ` (${c.health})`;
      return `Up ${humanDuration(nowMs - (c.startedMs ?? nowMs))}${health}`;
    }
    case "paused":
      return `Up ${humanDuration(nowMs - (c.startedMs ?? nowMs))} (Paused)`;
    case "restarting":
      return `Restarting (${c.exitCode}) ${humanDuration(nowMs - (c.finishedMs ?? nowMs))} ago`;
    case "removing":
      return "Removal In Progress";
    case "exited":
      return `Exited (${c.exitCode}) ${humanDuration(nowMs - (c.finishedMs ?? nowMs))} ago`;
    case "dead":
      return "Dead";
  }
}

/** go-units' HumanDuration, as the engine words ages. */
function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  return `${Math.floor(hours / 24)} days`;
}

function summaryOf(c: ContainerRecord, nowMs: number): unknown {
  const network =
    typeof c.hostConfig.NetworkMode === "string" ? c.hostConfig.NetworkMode : "default";
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: c.config.Cmd.join(" "),
    Created: Math.floor(c.createdMs / 1000),
    Ports: [],
    Labels: { ...c.config.Labels },
    State: c.status,
    Status: statusTextOf(c, nowMs),
    HostConfig: { NetworkMode: network },
    NetworkSettings: {
      Networks: c.status === "running" ? { [network === "default" ? "bridge" : network]: {} } : {},
    },
    Mounts: [],
  };
}

function inspectOf(c: ContainerRecord): unknown {
  const state: Record<string, unknown> = {
    Status: c.status,
    Running: c.status === "running" || c.status === "paused",
    Paused: c.status === "paused",
    Restarting: c.status === "restarting",
    OOMKilled: c.isOomKilled,
    Dead: c.status === "dead",
    Pid: c.pid,
    ExitCode: c.exitCode,
    Error: c.error,
    StartedAt: timeOf(c.startedMs),
    FinishedAt: timeOf(c.finishedMs),
  };
  if (c.hasHealthcheck)
    state.Health = { Status: c.health ?? "starting", FailingStreak: c.failingStreak, Log: [] };
  return {
    Id: c.id,
    Created: new Date(c.createdMs).toISOString(),
    Path: c.config.Cmd[0] ?? "",
    Args: c.config.Cmd.slice(1),
    State: state,
    Image: c.imageId,
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: "overlay2",
    Platform: "linux",
    HostConfig: { ...c.hostConfig },
    Config: {
      Hostname: c.id.slice(0, 12),
      Image: c.image,
      Env: [...c.config.Env],
      Cmd: [...c.config.Cmd],
      Labels: { ...c.config.Labels },
      ...(c.config.Healthcheck !== undefined ? { Healthcheck: c.config.Healthcheck } : {}),
    },
    Mounts: [],
    NetworkSettings: { Networks: {} },
  };
}

/** The engine's adjective_surname names, simplified. */
function randomName(): string {
  return `fake_${randomBytes(4).toString("hex")}`;
}
