// A whole local mesh for integration tests: coordinator, balancer, optional
// optimizer and N worker agents, each a real process on ephemeral ports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Admin, Balancer, Coordinator, WorkerState } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { httpStatus } from "./http-status.js";
import { startService, type ServiceProcess } from "./service-process.js";

export interface MeshOptions {
  readonly workers: number;
  readonly slots?: number;
  readonly handler?: string;
  readonly withOptimizer?: boolean;
  /** Extra environment for every process (SCALEMESH_* options, OTEL_*). */
  readonly env?: Record<string, string>;
  readonly workerArgs?: readonly string[];
  /** Extra environment for the balancer alone, over `env`. */
  readonly balancerEnv?: Record<string, string>;
}

export interface Mesh {
  readonly coordinator: ServiceProcess;
  readonly balancer: ServiceProcess;
  readonly optimizer: ServiceProcess | undefined;
  readonly workers: ServiceProcess[];
  readonly admin: RpcClient<typeof Admin>;
  readonly balancerClient: RpcClient<typeof Balancer>;
  readonly coordinatorClient: RpcClient<typeof Coordinator>;
  startWorker(
    id: string,
    extraArgs?: readonly string[],
    extraEnv?: Record<string, string>,
  ): Promise<ServiceProcess>;
  waitForWorkers(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function exampleHandler(name: string): string {
  return `module:${join(projectRoot(), "examples", "handlers", `${name}.mjs`)}`;
}

/** Fast clocks so failure detection takes well under a second in tests. */
export const FAST_FAILURE_ENV: Record<string, string> = {
  SCALEMESH_COORDINATOR_HEARTBEAT_INTERVAL_SEC: "0.2",
  SCALEMESH_SCALING_HEARTBEAT_TIMEOUT_SEC: "1",
  SCALEMESH_COORDINATOR_RECONNECT_GRACE_SEC: "0.5",
};

/** A fresh ledger file per mesh, so tests never see each other's tasks. */
export function freshLedgerPath(): string {
  return join(mkdtempSync(join(tmpdir(), "scalemesh-ledger-")), "ledger.db");
}

/** A coordinator on its own: fresh ledger, free ports, no optimizer; `env` on top. */
export function startLoneCoordinator(env: Record<string, string> = {}): Promise<ServiceProcess> {
  return startService("coordinator", {
    env: {
      SCALEMESH_LEDGER_PATH: freshLedgerPath(),
      SCALEMESH_COORDINATOR_GRPC_PORT: "0",
      SCALEMESH_COORDINATOR_HTTP_PORT: "0",
      SCALEMESH_COORDINATOR_OPTIMIZER: "",
      ...env,
    },
  });
}

export async function startMesh(options: MeshOptions): Promise<Mesh> {
  const ledgerPath = freshLedgerPath();
  const env = { SCALEMESH_LEDGER_PATH: ledgerPath, ...options.env };
  const optimizer = options.withOptimizer
    ? await startService("optimizer", {
        env: {
          ...env,
          SCALEMESH_OPTIMIZER_GRPC_PORT: "0",
          SCALEMESH_OPTIMIZER_HTTP_PORT: "0",
          SCALEMESH_OPTIMIZER_HISTORY_PATH: join(dirname(ledgerPath), "optimizer-history.json"),
        },
      })
    : undefined;
  const coordinator = await startService("coordinator", {
    env: {
      ...env,
      SCALEMESH_COORDINATOR_GRPC_PORT: "0",
      SCALEMESH_COORDINATOR_HTTP_PORT: "0",
      SCALEMESH_COORDINATOR_OPTIMIZER: optimizer ? `static://127.0.0.1:${optimizer.grpcPort}` : "",
    },
  });
  const coordinatorUri = `static://127.0.0.1:${coordinator.grpcPort}`;
  const balancer = await startService("balancer", {
    env: {
      ...env,
      SCALEMESH_BALANCER_GRPC_PORT: "0",
      SCALEMESH_BALANCER_HTTP_PORT: "0",
      SCALEMESH_BALANCER_COORDINATOR: coordinatorUri,
      ...options.balancerEnv,
    },
  });
  const admin = createRpcClient(Admin, `127.0.0.1:${coordinator.grpcPort}`);
  const coordinatorClient = createRpcClient(Coordinator, `127.0.0.1:${coordinator.grpcPort}`);
  const balancerClient = createRpcClient(Balancer, `127.0.0.1:${balancer.grpcPort}`, {
    defaultDeadlineMs: 30_000,
  });
  const workers: ServiceProcess[] = [];

  const startWorker = async (
    id: string,
    extraArgs: readonly string[] = [],
    extraEnv: Record<string, string> = {},
  ): Promise<ServiceProcess> => {
    const worker = await startService("worker-agent", {
      args: [
        "--coordinator",
        coordinatorUri,
        "--worker-id",
        id,
        "--slots",
        String(options.slots ?? 4),
        "--handler",
        options.handler ?? exampleHandler("echo"),
        "--http-port",
        "0",
        ...(options.workerArgs ?? []),
        ...extraArgs,
      ],
      env: { ...env, ...extraEnv },
      readyMessage: "worker registered",
    });
    workers.push(worker);
    return worker;
  };

  const waitForWorkers = async (count: number, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { workers: listed } = await admin.listWorkers({});
      if (listed.filter((w) => w.state === WorkerState.ALIVE).length >= count) return;
      if (Date.now() > deadline)
        throw new Error(
          `only ${listed.length} of ${count} workers registered within ${timeoutMs} ms`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  for (let i = 1; i <= options.workers; i += 1) await startWorker(`worker-${i}`);
  await waitForWorkers(options.workers);
  await waitForBalancerView(balancer);

  return {
    coordinator,
    balancer,
    optimizer,
    workers,
    admin,
    balancerClient,
    coordinatorClient,
    startWorker,
    waitForWorkers,
    async stop() {
      admin.close();
      coordinatorClient.close();
      balancerClient.close();
      await Promise.all(workers.map((w) => w.stop()));
      await balancer.stop();
      await coordinator.stop();
      await optimizer?.stop();
      rmSync(dirname(ledgerPath), { recursive: true, force: true });
    },
  };
}

/** Until its view is synced (readyz 200) a balancer answers UNAVAILABLE ("no cluster view yet"). */
export async function waitForBalancerView(balancer: ServiceProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await httpStatus(balancer.httpPort, "/readyz")) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("balancer did not become ready within 30 s");
}
