// A mesh for fault tests, as real processes: one coordinator on ports picked
// up front (so it can be SIGKILLed and started again on the same ports with
// the same ledger file), N balancers and N worker agents running the counting
// sleep handler (test/support/handlers/counting-sleep.mjs). Also the checks
// the fault tests share: every accepted task final exactly once, read back
// through Admin ListTasks, from the ledger file itself, and from the
// handlers' own execution records.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import Database from "better-sqlite3";
import {
  Admin,
  Balancer,
  TaskSchema,
  TaskState,
  WorkerState,
  type Task,
} from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { FAST_FAILURE_ENV, freshLedgerPath } from "./mesh.js";
import { startService, type ServiceProcess } from "./service-process.js";

/** Fast failure detection and recovery: heartbeat 0.2 s, timeout 1 s, reconnect grace 0.5 s, recovery grace 2 s, backoff 50 ms. */
export const FAULT_ENV: Record<string, string> = {
  ...FAST_FAILURE_ENV,
  SCALEMESH_COORDINATOR_RECOVERY_GRACE_SEC: "2",
  SCALEMESH_COORDINATOR_RETRY_BACKOFF_BASE_MS: "50",
  SCALEMESH_COORDINATOR_OPTIMIZER: "",
  SCALEMESH_WORKER_RECONNECT_INITIAL_MS: "100",
  SCALEMESH_WORKER_RECONNECT_MAX_MS: "500",
};

/** Tasks per fault test: SCALEMESH_FAULT_TASKS, never fewer than 2,000. */
export function faultTaskCount(): number {
  const fromEnv = Number(process.env.SCALEMESH_FAULT_TASKS ?? 0);
  return Number.isInteger(fromEnv) && fromEnv > 2000 ? fromEnv : 2000;
}

/** A sleep payload of 20..100 ms, the same for the same i (so a retried Assign carries the same content). */
export function sleepPayload(i: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ ms: 20 + ((i * 37) % 81) }));
}

export const COUNTING_HANDLER = `module:${join(projectRoot(), "test", "support", "handlers", "counting-sleep.mjs")}`;

/** Ports free on 127.0.0.1 right now (held together while picked, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export interface FaultClusterOptions {
  readonly workers: number;
  readonly slots: number;
  readonly balancers?: number;
  readonly env?: Record<string, string>;
}

export interface FaultCluster {
  /** The coordinator process running now (a new one after restartCoordinator). */
  readonly coordinator: ServiceProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly ledgerPath: string;
  /** Where the counting handler writes its execution records. */
  readonly execDir: string;
  readonly balancers: ServiceProcess[];
  readonly balancerClients: RpcClient<typeof Balancer>[];
  /** Worker id -> its agent process. */
  readonly workers: Map<string, ServiceProcess>;
  /** Admin on the coordinator's fixed port: keeps working across a restart. */
  readonly admin: RpcClient<typeof Admin>;
  /** Log lines of every coordinator process this cluster ran, oldest first. */
  coordinatorLogs(): Record<string, unknown>[];
  /** Starts a coordinator on the same ports and ledger file (after the previous one died). */
  restartCoordinator(): Promise<ServiceProcess>;
  /** Kills every process (SIGKILL: a fault test's processes may be stopped or wedged) and removes the temporary files. */
  stop(): Promise<void>;
}

export async function startFaultCluster(options: FaultClusterOptions): Promise<FaultCluster> {
  const env = { ...FAULT_ENV, ...options.env };
  const ledgerPath = freshLedgerPath();
  const execDir = mkdtempSync(join(tmpdir(), "scalemesh-exec-"));
  const [grpcPort, httpPort] = (await freePorts(2)) as [number, number];
  const coordinatorUri = `static://127.0.0.1:${grpcPort}`;
  const processes: ServiceProcess[] = [];
  const retiredCoordinatorLogs: Record<string, unknown>[] = [];
  const balancers: ServiceProcess[] = [];
  const balancerClients: RpcClient<typeof Balancer>[] = [];
  const workers = new Map<string, ServiceProcess>();
  const admin = createRpcClient(Admin, `127.0.0.1:${grpcPort}`);
  let coordinator: ServiceProcess | undefined;

  const startCoordinator = async (): Promise<ServiceProcess> => {
    const started = await startService("coordinator", {
      env: {
        ...env,
        SCALEMESH_LEDGER_PATH: ledgerPath,
        SCALEMESH_COORDINATOR_GRPC_PORT: String(grpcPort),
        SCALEMESH_COORDINATOR_HTTP_PORT: String(httpPort),
      },
    });
    processes.push(started);
    return started;
  };

  const stop = async (): Promise<void> => {
    admin.close();
    for (const client of balancerClients) client.close();
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    rmSync(execDir, { recursive: true, force: true });
    rmSync(dirname(ledgerPath), { recursive: true, force: true });
  };

  try {
    coordinator = await startCoordinator();
    await startBalancersAndWorkers(
      { ...options, env, coordinatorUri, execDir, admin },
      { processes, balancers, balancerClients, workers },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    get coordinator() {
      return coordinator as ServiceProcess;
    },
    grpcPort,
    httpPort,
    ledgerPath,
    execDir,
    balancers,
    balancerClients,
    workers,
    admin,
    coordinatorLogs: () => [...retiredCoordinatorLogs, ...(coordinator?.logs ?? [])],
    async restartCoordinator() {
      if (coordinator) {
        await coordinator.exited;
        retiredCoordinatorLogs.push(...coordinator.logs);
      }
      coordinator = await startCoordinator();
      return coordinator;
    },
    stop,
  };
}

export interface FleetOptions {
  readonly workers: number;
  readonly slots: number;
  readonly balancers?: number;
  readonly env: Record<string, string>;
  /** Where balancers and workers find the coordinator. */
  readonly coordinatorUri: string;
  /** Where the counting handler writes its execution records. */
  readonly execDir: string;
  /** The coordinator that should see every worker ALIVE. */
  readonly admin: RpcClient<typeof Admin>;
}

/** What startBalancersAndWorkers started, filled as they start so the caller can stop them even when it throws. */
export interface Fleet {
  readonly processes: ServiceProcess[];
  readonly balancers: ServiceProcess[];
  readonly balancerClients: RpcClient<typeof Balancer>[];
  readonly workers: Map<string, ServiceProcess>;
}

/** Starts the balancers and the worker agents (counting sleep handler, ids worker-1..N); resolves once every worker is ALIVE and every balancer ready. */
export async function startBalancersAndWorkers(options: FleetOptions, into: Fleet): Promise<void> {
  const { env, coordinatorUri } = options;
  const { processes, balancers, balancerClients, workers } = into;
  for (let i = 1; i <= (options.balancers ?? 1); i += 1) {
    const balancer = await startService("balancer", {
      env: {
        ...env,
        SCALEMESH_BALANCER_GRPC_PORT: "0",
        SCALEMESH_BALANCER_HTTP_PORT: "0",
        SCALEMESH_BALANCER_COORDINATOR: coordinatorUri,
      },
    });
    processes.push(balancer);
    balancers.push(balancer);
    balancerClients.push(createRpcClient(Balancer, `127.0.0.1:${balancer.grpcPort}`));
  }
  for (let i = 1; i <= options.workers; i += 1) {
    const workerId = `worker-${i}`;
    const worker = await startService("worker-agent", {
      args: [
        "--coordinator",
        coordinatorUri,
        "--worker-id",
        workerId,
        "--slots",
        String(options.slots),
        "--handler",
        COUNTING_HANDLER,
        "--http-port",
        "0",
      ],
      env: { ...env, SCALEMESH_FAULT_EXEC_DIR: options.execDir },
      readyMessage: "worker registered",
    });
    processes.push(worker);
    workers.set(workerId, worker);
  }
  await waitUntil("every worker ALIVE", 15_000, async () => {
    const { workers: listed } = await options.admin.listWorkers({});
    return listed.filter((w) => w.state === WorkerState.ALIVE).length === options.workers;
  });
  for (const balancer of balancers) {
    await waitUntil(
      `balancer ${balancer.grpcPort} ready`,
      10_000,
      async () =>
        (await fetch(`http://127.0.0.1:${balancer.httpPort}/readyz`).catch(() => undefined))
          ?.status === 200,
    );
  }
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after timeoutMs. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `not within ${timeoutMs} ms: ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`,
      );
    await sleep(50);
  }
}

/** A counter or gauge with no labels of its own (the service's default label aside) from a /metrics page; 0 when absent. */
export async function scrapeMetric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const pattern = new RegExp(`^${name}(\\{scalemesh_service="[^"]*"\\})? `);
  const line = text.split("\n").find((l) => pattern.test(l));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

const FINAL_STATE_NAMES = new Set(["SUCCEEDED", "DEAD_LETTERED", "CANCELLED"]);

/** Waits until the ledger holds at least `atLeast` tasks and none of them is unfinished. */
export async function waitForAllFinal(
  admin: RpcClient<typeof Admin>,
  atLeast: number,
  timeoutMs: number,
): Promise<void> {
  let last = "";
  try {
    await waitUntil("every task final", timeoutMs, async () => {
      const { tasksByState } = await admin.getClusterStatus({}, { timeoutMs: 2_000 });
      const entries = Object.entries(tasksByState).filter(([, n]) => n > 0n);
      last = entries.map(([state, n]) => `${state}=${n}`).join(" ");
      const total = entries.reduce((sum, [, n]) => sum + Number(n), 0);
      return total >= atLeast && entries.every(([state]) => FINAL_STATE_NAMES.has(state));
    });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; the ledger has ${last}`,
    );
  }
}

/** Every task through Admin ListTasks, page by page; a task listed twice is reported. */
export async function listAllTasks(
  admin: RpcClient<typeof Admin>,
): Promise<{ tasks: Map<string, Task>; listedTwice: string[] }> {
  const tasks = new Map<string, Task>();
  const listedTwice: string[] = [];
  let pageToken = "";
  do {
    const page = await admin.listTasks({ pageSize: 1000, pageToken }, { timeoutMs: 10_000 });
    for (const task of page.tasks) {
      const id = task.spec?.taskId ?? "";
      if (tasks.has(id)) listedTwice.push(id);
      tasks.set(id, task);
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return { tasks, listedTwice };
}

/**
 * The tasks as the ledger file holds them (a read-only connection; fine next
 * to a running coordinator in WAL mode), so a check does not rest on the
 * coordinator's memory alone.
 */
export function readLedgerFile(path: string): Map<string, Task> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT task_id AS taskId, task FROM tasks").all() as {
      taskId: string;
      task: Uint8Array;
    }[];
    return new Map(rows.map((row) => [row.taskId, fromBinary(TaskSchema, row.task)]));
  } finally {
    db.close();
  }
}

/**
 * The ledger file once it agrees with Admin on every task's state. Admin
 * answers from the coordinator's memory, and the file catches up at the next
 * group commit (a moment later).
 */
export async function settledLedgerFile(
  path: string,
  tasks: Map<string, Task>,
  timeoutMs = 5_000,
): Promise<Map<string, Task>> {
  let ledgerFile = new Map<string, Task>();
  await waitUntil("the ledger file agrees with Admin on every task", timeoutMs, () => {
    ledgerFile = readLedgerFile(path);
    return [...tasks.values()].every(
      (t) => ledgerFile.get(t.spec?.taskId ?? "")?.state === t.state,
    );
  });
  return ledgerFile;
}

export interface Execution {
  readonly event: "start" | "ok" | "aborted";
  readonly taskId: string;
  readonly attempt: number;
  readonly workerId: string;
  readonly pid: number;
  readonly atMs: number;
}

/** Every execution record the counting handler wrote (a torn last line is skipped). */
export function readExecutions(execDir: string): Execution[] {
  const executions: Execution[] = [];
  for (const name of readdirSync(execDir)) {
    for (const line of readFileSync(join(execDir, name), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      try {
        executions.push(JSON.parse(line) as Execution);
      } catch {
        // a line cut short by a SIGKILL
      }
    }
  }
  return executions;
}

export interface AuditOptions {
  /** Every task id whose Assign returned OK. */
  readonly accepted: Iterable<string>;
  /** The tasks as Admin lists them. */
  readonly tasks: Map<string, Task>;
  /** The same from the ledger file. */
  readonly ledgerFile: Map<string, Task>;
  readonly executions: readonly Execution[];
  readonly listedTwice: readonly string[];
  /**
   * Workers whose handler may have finished an attempt that did not count
   * (killed before the result went out, or stopped until the attempt was
   * given to another worker). Any other worker's finished attempt must be
   * the one the ledger kept.
   */
  readonly faultyWorkers?: ReadonlySet<string>;
}

/**
 * What is wrong with the accepted tasks, as one line each (empty when
 * nothing is): every accepted task is in the ledger once, SUCCEEDED, with
 * `attempt` >= 1 and one history record per failed attempt (its number, a
 * worker id, an error); the ledger file agrees; and the handler ran the
 * final attempt exactly once on the worker the ledger names, no attempt was
 * started twice, and no healthy worker finished an attempt that did not count.
 */
export function auditAcceptedTasks(options: AuditOptions): string[] {
  const problems: string[] = options.listedTwice.map((id) => `${id}: listed twice by ListTasks`);
  const byAttempt = new Map<string, Execution[]>();
  for (const execution of options.executions) {
    const key = `${execution.taskId}#${execution.attempt}`;
    byAttempt.set(key, [...(byAttempt.get(key) ?? []), execution]);
  }
  for (const id of options.accepted) {
    const task = options.tasks.get(id);
    if (!task) {
      problems.push(`${id}: accepted but not in the ledger (lost)`);
      continue;
    }
    const state = TaskState[task.state];
    if (task.state !== TaskState.SUCCEEDED)
      problems.push(`${id}: ${state} at attempt ${task.attempt} (${task.error})`);
    if (task.attempt < 1) problems.push(`${id}: attempt ${task.attempt}`);
    if (task.history.length !== task.attempt - 1)
      problems.push(`${id}: attempt ${task.attempt} but ${task.history.length} history record(s)`);
    for (const [k, record] of task.history.entries()) {
      if (record.attempt !== k + 1)
        problems.push(`${id}: history[${k}] is attempt ${record.attempt}`);
      if (record.workerId === "") problems.push(`${id}: history[${k}] names no worker`);
      if (record.error === "") problems.push(`${id}: history[${k}] has no error`);
    }
    const onFile = options.ledgerFile.get(id);
    if (!onFile) problems.push(`${id}: not in the ledger file`);
    else if (
      onFile.state !== task.state ||
      onFile.attempt !== task.attempt ||
      onFile.workerId !== task.workerId
    ) {
      problems.push(
        `${id}: the ledger file has ${TaskState[onFile.state]} attempt ${onFile.attempt} on ${onFile.workerId}, Admin ${state} attempt ${task.attempt} on ${task.workerId}`,
      );
    }
    for (let attempt = 1; attempt <= task.attempt + 1; attempt += 1) {
      const runs = byAttempt.get(`${id}#${attempt}`) ?? [];
      const starts = runs.filter((r) => r.event === "start");
      const oks = runs.filter((r) => r.event === "ok");
      if (starts.length > 1)
        problems.push(
          `${id}: attempt ${attempt} started ${starts.length} times (${starts.map((r) => r.workerId).join(", ")})`,
        );
      if (attempt > task.attempt && starts.length > 0)
        problems.push(
          `${id}: attempt ${attempt} ran, past the ledger's last attempt ${task.attempt}`,
        );
      if (attempt === task.attempt && task.state === TaskState.SUCCEEDED) {
        if (oks.length !== 1 || oks[0]?.workerId !== task.workerId) {
          problems.push(
            `${id}: succeeded on attempt ${attempt} on ${task.workerId}, but the handler finished that attempt on [${oks.map((r) => r.workerId).join(", ")}]`,
          );
        }
      }
      if (attempt < task.attempt) {
        for (const ok of oks) {
          if (!options.faultyWorkers?.has(ok.workerId)) {
            const failed = task.history[attempt - 1];
            const started = starts.find((r) => r.workerId === ok.workerId);
            const at = (t: Timestamp | undefined): string =>
              t ? new Date(timestampMs(t)).toISOString() : "?";
            problems.push(
              `${id}: healthy ${ok.workerId} ran attempt ${attempt} from ${started ? new Date(started.atMs).toISOString() : "?"} to ${new Date(ok.atMs).toISOString()}, ` +
                `yet the task went on to attempt ${task.attempt} (history: placed on ${failed?.workerId} at ${at(failed?.startedAt)}, failed "${failed?.error}" at ${at(failed?.endedAt)})`,
            );
          }
        }
      }
    }
  }
  return problems;
}

/** At most `limit` problems, then how many more: a readable assertion message. */
export function summarize(problems: readonly string[], limit = 20): string[] {
  return problems.length <= limit
    ? [...problems]
    : [...problems.slice(0, limit), `... and ${problems.length - limit} more`];
}

/** Epoch ms of a log line's ISO `time`. */
export function logTimeMs(line: Record<string, unknown>): number {
  return Date.parse(String(line.time));
}

/** Counts accepted tasks for runLoad's onAccepted; `reached` resolves when the count hits `target`. */
export function acceptedCounter(target: number): {
  onAccepted: () => void;
  reached: Promise<void>;
  readonly count: number;
} {
  let count = 0;
  let resolve: () => void = () => {};
  const reached = new Promise<void>((r) => (resolve = r));
  return {
    onAccepted: () => {
      count += 1;
      if (count === target) resolve();
    },
    reached,
    get count() {
      return count;
    },
  };
}

/** Resolves when `milestone` does; rejects if `load` ends first or nothing happens within timeoutMs. */
export async function duringLoad(
  milestone: Promise<void>,
  load: Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      milestone,
      load.then(() => Promise.reject(new Error("the load ended before the fault was injected"))),
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`load milestone not reached within ${timeoutMs} ms`)),
            timeoutMs,
          )),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The worker with the most tasks in flight, once one has at least `atLeast` (polled every 20 ms; throws after timeoutMs). */
export async function busiestWorker(
  admin: RpcClient<typeof Admin>,
  atLeast: number,
  timeoutMs: number,
): Promise<{ workerId: string; inFlight: number }> {
  const deadline = Date.now() + timeoutMs;
  let best = { workerId: "", inFlight: -1 };
  while (Date.now() < deadline) {
    const { workers } = await admin.listWorkers({}, { timeoutMs: 2_000 });
    const top = [...workers]
      .filter((w) => w.state === WorkerState.ALIVE)
      .sort((a, b) => b.inFlight - a.inFlight)[0];
    if (top && top.inFlight > best.inFlight)
      best = { workerId: top.spec?.workerId ?? "", inFlight: top.inFlight };
    if (top && top.inFlight >= atLeast)
      return { workerId: top.spec?.workerId ?? "", inFlight: top.inFlight };
    await sleep(20);
  }
  throw new Error(
    `no worker had ${atLeast} tasks in flight within ${timeoutMs} ms (the most seen: ${best.inFlight} on ${best.workerId})`,
  );
}
