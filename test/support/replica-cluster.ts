// A mesh with coordinator replicas, as real processes: a real PostgreSQL
// (postgres-server.ts) holding the ledger and the leader lease, a real etcd
// (etcd-server.ts) where the leader registers, two or more coordinators on
// ports picked up front, balancers and worker agents (the counting sleep
// handler) that find the coordinator through etcd only. The first
// coordinator is started alone and leads; the others stand by. Also reads
// the ledger from the database itself, so a check does not rest on a
// coordinator's memory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Etcd3 } from "etcd3";
import { protoPath as healthProtoPath } from "grpc-health-check";
import pg from "pg";
import { Admin, Balancer, TaskSchema, type Task } from "../../libs/contracts/index.js";
import { createRpcClient, type RpcClient } from "../../libs/rpc/index.js";
import { startEtcdServer, type EtcdServer } from "./etcd-server.js";
import { FAULT_ENV, freePorts, startBalancersAndWorkers } from "./fault-cluster.js";
import { startPostgresServer, type PostgresServer } from "./postgres-server.js";
import { startService, type ServiceProcess } from "./service-process.js";

/** The key prefix coordinators register under. */
export const COORDINATOR_PREFIX = "/scalemesh/coordinator";

/**
 * Replicas on a fast clock: a 3 s leader lease, etcd registrations on a 2 s
 * lease (below the leader's, so a dead leader's key is gone before its
 * successor registers), HTTP/2 keepalive every 1 s with 1 s to answer (so a
 * frozen leader's connections are dropped within about 2 s), and 5 s for
 * workers to come back to a new leader before their tasks run elsewhere.
 */
export const REPLICA_ENV: Record<string, string> = {
  ...FAULT_ENV,
  SCALEMESH_LEDGER_LEADER_LEASE_SEC: "3",
  SCALEMESH_RPC_KEEPALIVE_TIME_MS: "1000",
  SCALEMESH_RPC_KEEPALIVE_TIMEOUT_MS: "1000",
  SCALEMESH_COORDINATOR_RECOVERY_GRACE_SEC: "5",
};

export interface ReplicaClusterOptions {
  readonly coordinators: number;
  readonly workers: number;
  readonly slots: number;
  readonly balancers?: number;
  readonly env?: Record<string, string>;
}

export interface CoordinatorReplica {
  readonly name: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** 127.0.0.1:<grpc port>: what the lease row and etcd say about it. */
  readonly address: string;
  readonly process: ServiceProcess;
  readonly admin: RpcClient<typeof Admin>;
}

export interface ReplicaCluster {
  readonly postgres: PostgresServer;
  readonly ledgerUrl: string;
  readonly etcd: EtcdServer;
  /** Where balancers and workers find the coordinator. */
  readonly coordinatorUri: string;
  readonly coordinators: CoordinatorReplica[];
  readonly balancers: ServiceProcess[];
  readonly balancerClients: RpcClient<typeof Balancer>[];
  readonly workers: Map<string, ServiceProcess>;
  readonly execDir: string;
  /** The lease row as the database has it. */
  leaseRow(): Promise<{ holder: string; epoch: number; expiresInMs: number } | undefined>;
  /** The addresses registered under the coordinator prefix in etcd right now. */
  registeredCoordinators(): Promise<string[]>;
  /** Every task as the ledger's database holds it. */
  readLedger(): Promise<Map<string, Task>>;
  /** Starts coordinator `index` again on its ports once it has exited, waiting for `readyMessage`; it replaces the entry in `coordinators`. */
  restartCoordinator(index: number, readyMessage: string): Promise<CoordinatorReplica>;
  /** Kills every process (SIGCONT first for any stopped one), stops the servers, removes the files. */
  stop(): Promise<void>;
}

export async function startReplicaCluster(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
  const env = { ...REPLICA_ENV, ...options.env };
  const execDir = mkdtempSync(join(tmpdir(), "scalemesh-exec-"));
  const processes: ServiceProcess[] = [];
  const clients: { close(): void }[] = [];
  const coordinators: CoordinatorReplica[] = [];
  const balancers: ServiceProcess[] = [];
  const balancerClients: RpcClient<typeof Balancer>[] = [];
  const workers = new Map<string, ServiceProcess>();
  let postgres: PostgresServer | undefined;
  let etcd: EtcdServer | undefined;
  let pool: pg.Pool | undefined;
  let etcdClient: Etcd3 | undefined;

  const stop = async (): Promise<void> => {
    for (const client of [...clients, ...balancerClients]) client.close();
    // A stopped process takes no SIGKILL until it runs again on some kernels' accounting; resume first.
    for (const p of processes) if (p.child.exitCode === null) p.child.kill("SIGCONT");
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    etcdClient?.close();
    await pool?.end().catch(() => undefined);
    await etcd?.close();
    await postgres?.close();
    rmSync(execDir, { recursive: true, force: true });
  };

  try {
    postgres = await startPostgresServer();
    const ledgerUrl = await postgres.createDatabase();
    pool = new pg.Pool({ connectionString: ledgerUrl, max: 2 });
    pool.on("error", () => undefined);
    etcd = await startEtcdServer();
    etcdClient = new Etcd3({ hosts: `http://${etcd.clientAddress}` });
    const coordinatorUri = etcd.uri(COORDINATOR_PREFIX, 2);
    const ports = await freePorts(2 * options.coordinators);
    const startCoordinator = async (
      i: number,
      readyMessage: string,
      admin?: RpcClient<typeof Admin>,
    ): Promise<CoordinatorReplica> => {
      const grpcPort = ports[2 * i] as number;
      const httpPort = ports[2 * i + 1] as number;
      const process = await startService("coordinator", {
        env: {
          ...env,
          SCALEMESH_LEDGER_URL: ledgerUrl,
          SCALEMESH_COORDINATOR_REGISTER: coordinatorUri,
          SCALEMESH_COORDINATOR_GRPC_PORT: String(grpcPort),
          SCALEMESH_COORDINATOR_HTTP_PORT: String(httpPort),
        },
        readyMessage,
      });
      processes.push(process);
      const client = admin ?? createRpcClient(Admin, `127.0.0.1:${grpcPort}`);
      if (!admin) clients.push(client);
      const replica = {
        name: `coordinator-${i + 1}`,
        grpcPort,
        httpPort,
        address: `127.0.0.1:${grpcPort}`,
        process,
        admin: client,
      };
      coordinators[i] = replica;
      return replica;
    };
    for (let i = 0; i < options.coordinators; i += 1) {
      // The first leads (nobody holds the lease yet); the others stand by.
      await startCoordinator(i, i === 0 ? "coordinator listening" : "coordinator standing by");
    }
    await startBalancersAndWorkers(
      {
        ...options,
        env,
        coordinatorUri,
        execDir,
        // The first coordinator leads: every worker should be ALIVE there.
        admin: (coordinators[0] as CoordinatorReplica).admin,
      },
      { processes, balancers, balancerClients, workers },
    );
    const readPool = pool;
    const readEtcd = etcdClient;
    return {
      postgres,
      ledgerUrl,
      etcd,
      coordinatorUri,
      coordinators,
      balancers,
      balancerClients,
      workers,
      execDir,
      async leaseRow() {
        const result = await readPool.query<{ holder: string; epoch: string; ms: number }>(
          `SELECT holder, epoch::text AS epoch,
             (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8 AS ms
           FROM coordinator_leader WHERE name = 'coordinator'`,
        );
        const row = result.rows[0];
        return row
          ? { holder: row.holder, epoch: Number(row.epoch), expiresInMs: row.ms }
          : undefined;
      },
      async registeredCoordinators() {
        const values = await readEtcd.getAll().prefix(`${COORDINATOR_PREFIX}/`).strings();
        return Object.values(values)
          .map((value) => (JSON.parse(value) as { address: string }).address)
          .sort();
      },
      async readLedger() {
        const result = await readPool.query<{ task_id: string; task: Buffer }>(
          "SELECT task_id, task FROM tasks",
        );
        return new Map(result.rows.map((row) => [row.task_id, fromBinary(TaskSchema, row.task)]));
      },
      async restartCoordinator(index, readyMessage) {
        const previous = coordinators[index];
        if (!previous) throw new Error(`no coordinator ${index}`);
        await previous.process.exited;
        return startCoordinator(index, readyMessage, previous.admin);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: grpc.ServiceError | null, response?: { status: string }) => void,
  ): void;
};

/** grpc.health.v1 Check of one service name on 127.0.0.1:port: SERVING, NOT_SERVING, or the error. */
export async function healthStatus(port: number, service: string): Promise<string> {
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: {
      health: {
        v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient };
      };
    };
  };
  const client = new loaded.grpc.health.v1.Health(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    return await new Promise<string>((resolve) =>
      client.Check({ service }, { deadline: Date.now() + 2_000 }, (error, response) =>
        resolve(error ? `error ${error.code}: ${error.details}` : (response?.status ?? "none")),
      ),
    );
  } finally {
    client.close();
  }
}
