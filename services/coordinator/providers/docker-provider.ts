// The docker provider: worker agents as containers of one image, through the
// Docker Engine API (dockerode). A container is named after the worker id it
// registers with and labelled with its pool, so list() finds the pool again
// after a coordinator restart. Registry credentials serve image pulls only:
// no log line, error or returned value carries them.
import Dockerode from "dockerode";
import type { Logger } from "pino";
import type {
  ProvidedState,
  ProvidedWorker,
  ProviderCapabilities,
  WorkerProvider,
  WorkerHealth,
} from "./worker-provider.js";

export const LABEL_WORKER_ID = "scalemesh.worker-id";
export const LABEL_MANAGED_BY = "scalemesh.managed-by";
export const LABEL_POOL = "scalemesh.pool";
export const MANAGED_BY = "scalemesh-coordinator";
/** The worker agent's worker.worker_id option, so it registers under the container's name. */
export const WORKER_ID_ENV = "SCALEMESH_WORKER_WORKER_ID";
/** The image's entrypoint (deploy/entrypoint.sh) runs the service its first argument names. */
export const DEFAULT_WORKER_CMD: readonly string[] = ["worker-agent"];
export const DEFAULT_STOP_TIMEOUT_SEC = 10;
/** Its containers run with restart policy "no": one that ends stays ended, so it is stopped only once drained. */
export const DOCKER_CAPABILITIES: ProviderCapabilities = {
  canStart: true,
  canStop: true,
  stopOnScaleDown: "after-drain",
};
/** A fresh id is drawn again when a name is taken (24 random bits rarely collide, but a pool lives long). */
const NAME_ATTEMPTS = 3;
/** What the engine accepts as a container name. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  /** The registry's address, e.g. "registry.example.com:5000" or "https://index.docker.io/v1/". */
  readonly serveraddress: string;
}

export interface DockerProviderOptions {
  /** Default: new Dockerode(), which follows DOCKER_HOST or the default socket. */
  readonly docker?: Dockerode;
  readonly image: string;
  readonly workerPrefix: string;
  /** A network the containers join (so they reach the coordinator by name); default: the engine's bridge. */
  readonly network?: string;
  /** Environment of every container, e.g. SCALEMESH_WORKER_COORDINATOR. */
  readonly env: Readonly<Record<string, string>>;
  /** Extra container labels; the scalemesh.* labels always win. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Credentials for pulls only. */
  readonly registryAuth?: RegistryAuth;
  /** Pull the image before each start() (picks up a moved tag); default false. */
  readonly pullImage?: boolean;
  /** The container command; default ["worker-agent"]. */
  readonly cmd?: readonly string[];
  /** How long a stopped container gets after SIGTERM before SIGKILL (the coordinator drained it already). */
  readonly stopTimeoutSec?: number;
  readonly logger: Logger;
  readonly clock?: { now(): number };
  /** In [0, 1); draws the 6 hex digits of a worker id. */
  readonly random?: () => number;
}

interface Launched {
  readonly workerId: string;
  readonly container: Dockerode.Container;
}

export function createDockerProvider(options: DockerProviderOptions): WorkerProvider {
  if (!CONTAINER_NAME.test(options.workerPrefix)) {
    throw new Error(
      `docker provider: worker prefix "${options.workerPrefix}" cannot start a container name (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)`,
    );
  }
  const docker = options.docker ?? new Dockerode();
  const { image, workerPrefix: pool, logger } = options;
  const clock = options.clock ?? { now: Date.now };
  const random = options.random ?? Math.random;
  const stopTimeoutSec = options.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC;
  const redact = createRedactor(options.registryAuth);
  const failure = (what: string, error: unknown) =>
    new Error(redact(`docker provider: ${what}: ${engineMessageOf(error)}`));

  const newWorkerId = () =>
    `${pool}-${Math.min(0xffffff, Math.floor(random() * 0x1000000))
      .toString(16)
      .padStart(6, "0")}`;

  const containerConfig = (workerId: string) => ({
    Image: image,
    Cmd: [...(options.cmd ?? DEFAULT_WORKER_CMD)],
    // The id last: the user's env must not make a worker register under another name.
    Env: Object.entries({ ...options.env, [WORKER_ID_ENV]: workerId }).map(
      ([key, value]) => `${key}=${value}`,
    ),
    Labels: {
      ...options.labels,
      [LABEL_WORKER_ID]: workerId,
      [LABEL_MANAGED_BY]: MANAGED_BY,
      [LABEL_POOL]: pool,
    },
    // "no": recovery is the coordinator's, with its backoff and attempt limit.
    HostConfig: {
      RestartPolicy: { Name: "no" },
      ...(options.network ? { NetworkMode: options.network } : {}),
    },
  });

  const createContainer = (workerId: string): Promise<Dockerode.Container> => {
    // dockerode copies every create option into the query string as well as
    // the body (docker-modem's buildQuerystring(opts._query || opts)), which
    // would put the env in URLs the engine logs; _query and _body split them.
    const request = {
      name: workerId,
      _query: { name: workerId },
      _body: containerConfig(workerId),
    };
    return docker.createContainer(request);
  };

  /** A container under a fresh id; a taken name (409) draws another. */
  const createFresh = async (): Promise<Launched> => {
    for (let attempt = 1; ; attempt += 1) {
      const workerId = newWorkerId();
      try {
        return { workerId, container: await createContainer(workerId) };
      } catch (error) {
        if (statusOf(error) !== 409 || attempt >= NAME_ATTEMPTS)
          throw failure(`could not create worker ${workerId} from image ${image}`, error);
        logger.warn(
          { workerId, attempt },
          "docker provider: container name taken; drawing another worker id",
        );
      }
    }
  };

  const startContainer = async (launched: Launched): Promise<void> => {
    try {
      await launched.container.start();
    } catch (error) {
      throw failure(`could not start worker ${launched.workerId} from image ${image}`, error);
    }
  };

  /** Removes what a failed start() or replace() created; returns the error's message with what it removed or could not. */
  const failedWith = async (error: unknown, launched: readonly Launched[]): Promise<string> => {
    const message = error instanceof Error ? error.message : String(error);
    if (launched.length === 0) return message;
    const leftovers: string[] = [];
    for (const { workerId, container } of launched) {
      try {
        await container.remove({ force: true, v: true });
      } catch (error) {
        if (statusOf(error) !== 404)
          leftovers.push(`${workerId} (${redact(engineMessageOf(error))})`);
      }
    }
    if (leftovers.length > 0)
      logger.warn({ leftovers }, "docker provider: could not remove containers of a failed start");
    return `${message}; ${leftovers.length === 0 ? `removed the ${launched.length} container(s) it created` : `could not remove ${leftovers.join(", ")}`}`;
  };

  const pull = async (): Promise<void> => {
    const startedMs = clock.now();
    // A fresh object each time: docker-modem deletes authconfig from the options it is given.
    const pullOptions = options.registryAuth ? { authconfig: { ...options.registryAuth } } : {};
    let events: readonly unknown[];
    try {
      const stream = await docker.pull(image, pullOptions);
      events = await followProgress(docker, stream, (event) =>
        logger.trace({ image, progress: event }, "docker provider: pull progress"),
      );
    } catch (error) {
      throw failure(`could not pull image ${image}`, error);
    }
    // An engine that fails after it began streaming answers 200 and says so in a line of the stream.
    const streamError = events.map(progressErrorOf).find((message) => message !== undefined);
    if (streamError !== undefined)
      throw new Error(redact(`docker provider: could not pull image ${image}: ${streamError}`));
    logger.info(
      { image, elapsedMs: clock.now() - startedMs, status: lastStatusOf(events) },
      "docker provider: pulled the worker image",
    );
  };

  /** A worker's container as the engine describes it; undefined when there is none (404). */
  const inspectWorker = async (
    workerId: string,
  ): Promise<Dockerode.ContainerInspectInfo | undefined> => {
    try {
      return await docker.getContainer(workerId).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw failure(`could not inspect worker ${workerId}`, error);
    }
  };

  const isOwn = (info: Dockerode.ContainerInspectInfo) =>
    info.Config.Labels?.[LABEL_MANAGED_BY] === MANAGED_BY &&
    info.Config.Labels[LABEL_POOL] === pool;

  /** Like inspectWorker, but a container of that name that is not this pool's is never ours to stop or remove. */
  const inspectOwn = async (
    workerId: string,
  ): Promise<Dockerode.ContainerInspectInfo | undefined> => {
    const info = await inspectWorker(workerId);
    if (info && !isOwn(info)) {
      const labels = info.Config.Labels ?? {};
      throw new Error(
        `docker provider: container ${workerId} is not a worker of pool ${pool} (${LABEL_MANAGED_BY}="${labels[LABEL_MANAGED_BY] ?? ""}", ${LABEL_POOL}="${labels[LABEL_POOL] ?? ""}"); left alone`,
      );
    }
    return info;
  };

  /** Stops and removes one worker's container; false when it was gone already. */
  const stopOne = async (workerId: string): Promise<boolean> => {
    const info = await inspectOwn(workerId);
    if (!info) return false;
    // By id from here on: a replacement under the same name must not be hit.
    const container = docker.getContainer(info.Id);
    try {
      await container.stop({ t: stopTimeoutSec });
    } catch (error) {
      // 304: it was not running; 404: it went away meanwhile.
      if (statusOf(error) === 404) return false;
      if (statusOf(error) !== 304) throw failure(`could not stop worker ${workerId}`, error);
    }
    try {
      await container.remove({ force: false, v: true });
    } catch (error) {
      if (statusOf(error) !== 404) throw failure(`could not remove worker ${workerId}`, error);
    }
    return true;
  };

  const list = async (): Promise<readonly ProvidedWorker[]> => {
    let summaries: Dockerode.ContainerInfo[];
    try {
      summaries = await docker.listContainers({
        all: true,
        filters: { label: [`${LABEL_MANAGED_BY}=${MANAGED_BY}`, `${LABEL_POOL}=${pool}`] },
      });
    } catch (error) {
      throw failure(`could not list the containers of pool ${pool}`, error);
    }
    // The list's summary has no exit code, OOM flag or (before API 1.52)
    // health, so each container is inspected too.
    const workers = await Promise.all(
      summaries.map(async (summary) => {
        try {
          return describeContainer(summary, await docker.getContainer(summary.Id).inspect());
        } catch (error) {
          if (statusOf(error) === 404) return undefined; // removed between the list and the inspect
          throw failure(`could not inspect container ${summary.Id.slice(0, 12)}`, error);
        }
      }),
    );
    return workers.filter((worker): worker is ProvidedWorker => worker !== undefined);
  };

  return {
    kind: "docker",
    capabilities: DOCKER_CAPABILITIES,
    list,
    start: async (count) => {
      if (count <= 0) return [];
      const startedMs = clock.now();
      const launched: Launched[] = [];
      try {
        if (options.pullImage) await pull();
        for (let i = 0; i < count; i += 1) {
          const created = await createFresh();
          launched.push(created);
          await startContainer(created);
        }
      } catch (error) {
        const message = await failedWith(error, launched);
        logger.warn(
          { image, count, elapsedMs: clock.now() - startedMs, error: message },
          "docker provider: could not start worker containers",
        );
        throw new Error(message);
      }
      const workerIds = launched.map((l) => l.workerId);
      logger.info(
        { workerIds, image, elapsedMs: clock.now() - startedMs },
        `docker provider: started ${count} worker container(s)`,
      );
      return workerIds;
    },
    stop: async (workerIds) => {
      const outcomes = await Promise.all(
        workerIds.map((workerId) =>
          stopOne(workerId).then(
            (wasThere) => ({ workerId, wasThere, error: undefined }),
            (error: unknown) => ({
              workerId,
              wasThere: true,
              error: error instanceof Error ? error.message : String(error),
            }),
          ),
        ),
      );
      const failures = outcomes.flatMap((o) => (o.error === undefined ? [] : [o.error]));
      const gone = outcomes.filter((o) => !o.wasThere).map((o) => o.workerId);
      logger.info(
        { workerIds, gone, failed: failures.length, stopTimeoutSec },
        "docker provider: stopped and removed worker containers",
      );
      if (failures.length > 0)
        throw new Error(
          `docker provider: ${failures.length} of ${workerIds.length} workers not stopped: ${failures.join("; ")}`,
        );
    },
    replace: async (workerId) => {
      const old = await inspectOwn(workerId);
      if (old) {
        try {
          // force: a worker the coordinator declared dead may still run (hung) or be paused.
          await docker.getContainer(old.Id).remove({ force: true, v: true });
        } catch (error) {
          if (statusOf(error) !== 404)
            throw failure(`could not remove dead worker ${workerId}`, error);
        }
      }
      let container: Dockerode.Container;
      try {
        container = await createContainer(workerId);
      } catch (error) {
        throw failure(`could not create worker ${workerId} again from image ${image}`, error);
      }
      try {
        await startContainer({ workerId, container });
      } catch (error) {
        throw new Error(await failedWith(error, [{ workerId, container }]));
      }
      logger.info(
        {
          workerId,
          oldContainer: old?.Id.slice(0, 12),
          oldState: old?.State.Status,
          oldExitCode: old?.State.ExitCode,
        },
        "docker provider: replaced a dead worker container",
      );
    },
    health: async (workerId): Promise<WorkerHealth> => {
      let info: Dockerode.ContainerInspectInfo | undefined;
      try {
        info = await inspectWorker(workerId);
      } catch (error) {
        logger.warn(
          { workerId, error: error instanceof Error ? error.message : String(error) },
          "docker provider: could not ask the engine for a worker's health",
        );
        return "unknown";
      }
      // A container of that name that is not ours means ours is gone.
      return info && isOwn(info) ? healthOfContainer(info.State) : "gone";
    },
    // dockerode holds no connection open, and the containers outlive the
    // coordinator on purpose: a new one finds them by their labels.
    close: async () => {},
  };
}

/** The parts of the engine's State object (GET /containers/{id}/json) the mapping reads. */
export interface ContainerStateView {
  /** created, running, paused, restarting, removing, exited or dead. */
  readonly Status: string;
  readonly ExitCode: number;
  readonly OOMKilled: boolean;
  readonly Error?: string;
  readonly StartedAt?: string;
  /** Present only when the container has a HEALTHCHECK: none, starting, healthy or unhealthy. */
  readonly Health?: { readonly Status: string } | undefined;
}

/** What the provider reports of one container: its summary in the list (for the Status text) and its inspected State. */
export function describeContainer(
  summary: Pick<Dockerode.ContainerInfo, "Names" | "Labels" | "Status">,
  info: { readonly State: ContainerStateView },
): ProvidedWorker {
  const workerId = summary.Labels[LABEL_WORKER_ID] ?? summary.Names[0]?.replace(/^\//, "") ?? "";
  const state = info.State;
  const startedAtMs = Date.parse(state.StartedAt ?? "");
  return {
    workerId,
    state: providedStateOf(state),
    detail: detailOf(summary.Status, state),
    // The engine says 0001-01-01T00:00:00Z for a container never started.
    ...(startedAtMs > 0 ? { startedAtMs } : {}),
  };
}

export function providedStateOf(state: ContainerStateView): ProvidedState {
  switch (state.Status) {
    case "created":
    case "restarting":
      return "starting";
    case "running":
      // Only an image with a HEALTHCHECK has Health; until its first passing check the worker is still starting.
      return state.Health?.Status === "starting" ? "starting" : "running";
    case "paused":
      // Frozen, not dead: its heartbeats stop and the coordinator decides; an operator may unpause it.
      return "running";
    case "removing":
      return "stopping";
    case "exited":
      return state.ExitCode === 0 && !state.OOMKilled ? "exited" : "failed";
    case "dead":
      return "failed";
    default:
      // A state newer than this code: neither counted as serving nor replaced as failed.
      return "starting";
  }
}

function detailOf(statusText: string, state: ContainerStateView): string {
  const parts = [statusText || state.Status];
  if (state.Status === "exited" || state.Status === "dead")
    parts.push(`exit code ${state.ExitCode}`);
  if (state.OOMKilled) parts.push("killed out of memory");
  if (state.Error) parts.push(state.Error);
  return parts.join("; ");
}

/**
 * The platform's view of one worker: a container that is not running is
 * unhealthy whatever its last health check said; a running one is what its
 * HEALTHCHECK says (starting: not known yet), or healthy without one.
 */
export function healthOfContainer(state: ContainerStateView): WorkerHealth {
  switch (state.Status) {
    case "exited":
    case "dead":
    case "paused":
      return "unhealthy";
    case "removing":
      return "gone";
    case "running":
      break;
    default:
      return "unknown";
  }
  switch (state.Health?.Status) {
    case "healthy":
      return "healthy";
    case "unhealthy":
      return "unhealthy";
    case "starting":
      return "unknown";
    default:
      return "healthy";
  }
}

/** The HTTP status of a dockerode error (304, 404, 409, ...), if it has one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("statusCode" in error)) return undefined;
  return typeof error.statusCode === "number" ? error.statusCode : undefined;
}

/**
 * The engine's own words: the body's {"message"} when dockerode kept it
 * (plain calls), else the cause dockerode put after its "(HTTP code N) reason - "
 * prefix (streamed calls such as a pull keep no body), else the error's message.
 */
export function engineMessageOf(error: unknown): string {
  if (typeof error === "object" && error !== null && "json" in error) {
    const body = error.json;
    if (
      typeof body === "object" &&
      body !== null &&
      "message" in body &&
      typeof body.message === "string"
    )
      return body.message;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
}

/** Replaces the registry password (and its encodings) wherever an engine message might echo it. */
function createRedactor(auth: RegistryAuth | undefined): (text: string) => string {
  if (!auth || auth.password === "") return (text) => text;
  const header = Buffer.from(JSON.stringify(auth)).toString("base64");
  const secrets = [
    auth.password,
    encodeURIComponent(auth.password),
    header,
    header.replace(/\+/g, "-").replace(/\//g, "_"),
  ];
  return (text) =>
    secrets.reduce((redacted, secret) => redacted.split(secret).join("[redacted]"), text);
}

function followProgress(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
  onProgress: (event: unknown) => void,
): Promise<readonly unknown[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: unknown[]) => (error ? reject(error) : resolve(events)),
      onProgress,
    );
  });
}

/** A progress line's error ({"errorDetail": {"message"}, "error"}), if it is one. */
function progressErrorOf(event: unknown): string | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  if (
    "errorDetail" in event &&
    typeof event.errorDetail === "object" &&
    event.errorDetail !== null &&
    "message" in event.errorDetail
  ) {
    return String(event.errorDetail.message);
  }
  return "error" in event && typeof event.error === "string" ? event.error : undefined;
}

function lastStatusOf(events: readonly unknown[]): string | undefined {
  const last = events.at(-1);
  return typeof last === "object" &&
    last !== null &&
    "status" in last &&
    typeof last.status === "string"
    ? last.status
    : undefined;
}
