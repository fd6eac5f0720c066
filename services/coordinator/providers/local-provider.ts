// The local provider: worker agents as child processes of the coordinator,
// on this machine (the default of `scalemesh up`). Each child gets an id of
// ours (<prefix>-<n>) and registers with it; its JSON log goes to
// <logDir>/<id>.log. A child that exits is reported "exited" (code 0, after a
// drain) or "failed"; bringing it back is the autoscaler's call (replace).
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type {
  ProvidedWorker,
  ProviderCapabilities,
  WorkerProvider,
  WorkerHealth,
} from "./worker-provider.js";

/** Its children are ours to start and stop; a stopped child gets SIGTERM, so it is stopped only once drained. */
export const LOCAL_CAPABILITIES: ProviderCapabilities = {
  canStart: true,
  canStop: true,
  stopOnScaleDown: "after-drain",
};

export interface LocalProviderOptions {
  /** The coordinator's address as the children should dial it (a discovery URI). */
  readonly coordinatorUri: string;
  readonly workerPrefix: string;
  readonly slots: number;
  /** "" = the agent's built-in echo handler. */
  readonly handler: string;
  /** Extra agent flags (--worker.capabilities=..., config flags of the coordinator's own command line). */
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly logDir: string;
  /** node's path to the worker-agent's main.js. */
  readonly agentEntry: string;
  /** How long a stopped child gets to exit after SIGTERM before SIGKILL. */
  readonly stopTimeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface LocalChild {
  readonly workerId: string;
  readonly process: ChildProcess;
  readonly startedAtMs: number;
  readonly exited: Promise<string>;
  exitDetail: string | undefined;
  isStopping: boolean;
}

export function createLocalProvider(options: LocalProviderOptions): WorkerProvider {
  const now = options.now ?? Date.now;
  const children = new Map<string, LocalChild>();
  let lastNumber = 0;

  const spawnAgent = (workerId: string): LocalChild => {
    // Made when a worker first starts: a coordinator that never scales writes nothing here.
    mkdirSync(options.logDir, { recursive: true });
    const log = createWriteStream(join(options.logDir, `${workerId}.log`), { flags: "a" });
    const args = [
      options.agentEntry,
      "--coordinator",
      options.coordinatorUri,
      "--worker-id",
      workerId,
      "--slots",
      String(options.slots),
      "--http-port",
      "0",
      ...(options.handler ? ["--handler", options.handler] : []),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const record: LocalChild = {
      workerId,
      process: child,
      startedAtMs: now(),
      exitDetail: undefined,
      isStopping: false,
      exited: new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          record.exitDetail = signal ? `killed by ${signal}` : `exit code ${code}`;
          resolve(record.exitDetail);
        });
        child.once("error", (error) => {
          record.exitDetail = `could not start: ${error.message}`;
          resolve(record.exitDetail);
        });
      }),
    };
    children.set(workerId, record);
    options.logger.info(
      { workerId, pid: child.pid, log: join(options.logDir, `${workerId}.log`) },
      "local provider started a worker agent",
    );
    return record;
  };

  const stateOf = (child: LocalChild): ProvidedWorker => {
    const base = { workerId: child.workerId, startedAtMs: child.startedAtMs };
    if (child.exitDetail === undefined)
      return {
        ...base,
        state: child.isStopping ? "stopping" : "running",
        detail: `pid ${child.process.pid}`,
      };
    return {
      ...base,
      state: child.process.exitCode === 0 ? "exited" : "failed",
      detail: child.exitDetail,
    };
  };

  const stopChild = async (child: LocalChild): Promise<void> => {
    child.isStopping = true;
    if (child.exitDetail === undefined) child.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const isExited = await Promise.race([
      child.exited.then(() => true),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), options.stopTimeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    if (!isExited) {
      options.logger.warn(
        { workerId: child.workerId, stopTimeoutMs: options.stopTimeoutMs },
        "worker agent did not exit after SIGTERM; killing it",
      );
      child.process.kill("SIGKILL");
      await child.exited;
    }
    children.delete(child.workerId);
  };

  return {
    kind: "local",
    capabilities: LOCAL_CAPABILITIES,
    list: async () => [...children.values()].map(stateOf),
    start: async (count) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) {
        // Numbers are never reused in one coordinator's life, so a late log line cannot be mistaken for a new worker's.
        let workerId: string;
        do workerId = `${options.workerPrefix}-${(lastNumber += 1)}`;
        while (children.has(workerId));
        spawnAgent(workerId);
        ids.push(workerId);
      }
      return ids;
    },
    stop: async (workerIds) => {
      await Promise.all(
        workerIds
          .map((id) => children.get(id))
          .filter((c): c is LocalChild => c !== undefined)
          .map(stopChild),
      );
    },
    replace: async (workerId) => {
      const old = children.get(workerId);
      if (old) await stopChild(old);
      spawnAgent(workerId);
    },
    health: async (workerId): Promise<WorkerHealth> => {
      const child = children.get(workerId);
      if (!child) return "gone";
      return child.exitDetail === undefined ? "healthy" : "unhealthy";
    },
    close: async () => {
      await Promise.all([...children.values()].map(stopChild));
    },
  };
}
