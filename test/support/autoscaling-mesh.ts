// A coordinator whose autoscaler runs the workers (local provider: real
// worker-agent child processes of the coordinator) and a balancer in front,
// on ephemeral ports with a fresh ledger: for the autoscaling tests and bench.
import { Admin, Balancer } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { dirname, join } from "node:path";
import { freshLedgerPath, waitForBalancerView } from "./mesh.js";
import { startService, type ServiceProcess } from "./service-process.js";

export interface AutoscalingMesh {
  /** Started when asked for: the coordinator then asks it for forecasts (predictive scaling). */
  readonly optimizer: ServiceProcess | undefined;
  readonly coordinator: ServiceProcess;
  readonly balancer: ServiceProcess;
  readonly admin: RpcClient<typeof Admin>;
  readonly client: RpcClient<typeof Balancer>;
  /** SIGTERM: the coordinator drains the workers it started before it exits. */
  stop(): Promise<void>;
}

/** `env`: the SCALEMESH_* settings of this mesh (min/max workers, sync interval, handler, ...). */
export async function startAutoscalingMesh(
  env: Record<string, string>,
  options: { withOptimizer?: boolean } = {},
): Promise<AutoscalingMesh> {
  const ledgerPath = freshLedgerPath();
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
      SCALEMESH_LEDGER_PATH: ledgerPath,
      SCALEMESH_COORDINATOR_GRPC_PORT: "0",
      SCALEMESH_COORDINATOR_HTTP_PORT: "0",
      SCALEMESH_COORDINATOR_OPTIMIZER: optimizer ? `static://127.0.0.1:${optimizer.grpcPort}` : "",
      SCALEMESH_AUTOSCALER_ENABLED: "true",
      SCALEMESH_SCALING_DEPLOYMENT_MODE: "local",
      ...env,
    },
  });
  const balancer = await startService("balancer", {
    env: {
      SCALEMESH_BALANCER_GRPC_PORT: "0",
      SCALEMESH_BALANCER_HTTP_PORT: "0",
      SCALEMESH_BALANCER_COORDINATOR: `static://127.0.0.1:${coordinator.grpcPort}`,
    },
  });
  await waitForBalancerView(balancer);
  const admin = createRpcClient(Admin, `127.0.0.1:${coordinator.grpcPort}`);
  const client = createRpcClient(Balancer, `127.0.0.1:${balancer.grpcPort}`, {
    defaultDeadlineMs: 60_000,
  });
  return {
    optimizer,
    coordinator,
    balancer,
    admin,
    client,
    async stop() {
      admin.close();
      client.close();
      await balancer.stop();
      await coordinator.stop();
      await optimizer?.stop();
    },
  };
}
