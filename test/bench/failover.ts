// Coordinator failover under load: the leader of two replicas on a
// PostgreSQL ledger SIGKILLed (a standby takes over once the lease runs
// out), against what a user would otherwise run: one coordinator on its
// SQLite file, SIGKILLed and started again at once on the same ports, as a
// supervisor on the same machine would (a lost machine has no such restart).
// Both meshes: two balancers and four worker agents found the same way, the
// counting sleep handler, the same fast failure settings (REPLICA_ENV); the
// load is LOAD_TASKS Assign calls, retried with the same id while the
// coordinator is away, killed once a third are accepted. Each figure is
// timed from the kill: the coordinator serving again (its "listening" line),
// the clients' last failed call, all workers ALIVE on it. Medians of RUNS.
import { setTimeout as sleep } from "node:timers/promises";
import { WorkerState, type Admin } from "../../libs/contracts/index.js";
import type { RpcClient } from "../../libs/rpc/index.js";
import {
  acceptedCounter,
  duringLoad,
  logTimeMs,
  sleepPayload,
  startFaultCluster,
  waitForAllFinal,
  waitUntil,
} from "../support/fault-cluster.js";
import { runLoad, unavailableWindow } from "../support/load.js";
import { REPLICA_ENV, startReplicaCluster } from "../support/replica-cluster.js";
import type { ServiceProcess } from "../support/service-process.js";
import { quantileMs } from "./driver-pool.js";

const RUNS = 3;
const LOAD_TASKS = 5_000;
const WORKERS = 4;

type Say = (text: string) => void;
const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

interface FailoverRun {
  readonly servingMs: number;
  readonly clientsBackMs: number;
  readonly workersBackMs: number;
  readonly failedCalls: number;
}

/** What each variant does at the kill: returns the coordinator that serves afterwards and its Admin client. */
type Fault = () => Promise<{ serving: ServiceProcess; admin: RpcClient<typeof Admin> }>;

interface Mesh {
  readonly balancerClients: Parameters<typeof runLoad>[0]["clients"];
  stop(): Promise<void>;
}

async function timeFailover(mesh: Mesh, fault: Fault, idPrefix: string): Promise<FailoverRun> {
  const counter = acceptedCounter(Math.floor(LOAD_TASKS / 3));
  const stopLoad = new AbortController();
  const loading = runLoad({
    clients: mesh.balancerClients,
    count: LOAD_TASKS,
    concurrency: 48,
    idPrefix,
    payload: sleepPayload,
    onAccepted: counter.onAccepted,
    signal: stopLoad.signal,
  });
  try {
    await duringLoad(counter.reached, loading, 60_000);
    const killedAtMs = Date.now();
    const { serving, admin } = await fault();
    const listening = await serving.waitForLog((l) => l.msg === "coordinator listening", 20_000);
    await waitUntil(
      "every worker ALIVE on the coordinator serving now",
      30_000,
      async () =>
        (await admin.listWorkers({})).workers.filter((w) => w.state === WorkerState.ALIVE)
          .length === WORKERS,
    );
    const workersBackMs = Date.now() - killedAtMs;
    const load = await loading;
    await waitForAllFinal(admin, load.accepted.size, 120_000);
    const window = unavailableWindow(load.failedCalls);
    return {
      servingMs: logTimeMs(listening) - killedAtMs,
      clientsBackMs: window ? window.lastMs - killedAtMs : 0,
      workersBackMs,
      failedCalls: load.failedCalls.length,
    };
  } finally {
    stopLoad.abort();
    await loading.catch(() => undefined);
    await mesh.stop();
  }
}

async function replicaTakeover(run: number): Promise<FailoverRun> {
  progress(`failover: replicas on PostgreSQL, run ${run}...`);
  const cluster = await startReplicaCluster({
    coordinators: 2,
    workers: WORKERS,
    slots: 16,
    balancers: 2,
  });
  const [leader, standby] = cluster.coordinators;
  if (!leader || !standby) throw new Error("two coordinators expected");
  return timeFailover(
    cluster,
    async () => {
      leader.process.child.kill("SIGKILL");
      return { serving: standby.process, admin: standby.admin };
    },
    `bench-failover-${run}`,
  );
}

async function loneRestart(run: number): Promise<FailoverRun> {
  progress(`failover: one coordinator on SQLite, restarted, run ${run}...`);
  const cluster = await startFaultCluster({
    workers: WORKERS,
    slots: 16,
    balancers: 2,
    env: REPLICA_ENV,
  });
  return timeFailover(
    cluster,
    async () => {
      cluster.coordinator.child.kill("SIGKILL");
      return { serving: await cluster.restartCoordinator(), admin: cluster.admin };
    },
    `bench-restart-${run}`,
  );
}

const medianOf = (runs: readonly FailoverRun[], pick: (r: FailoverRun) => number): number =>
  quantileMs(
    runs.map(pick).sort((a, b) => a - b),
    0.5,
  );

const COLUMNS: readonly ((r: FailoverRun) => number)[] = [
  (r) => r.servingMs,
  (r) => r.clientsBackMs,
  (r) => r.workersBackMs,
  (r) => r.failedCalls,
];

function row(label: string, runs: readonly FailoverRun[]): string {
  const cells = COLUMNS.map((pick) => medianOf(runs, pick));
  return `${label.padEnd(44)}${cells.map((c) => String(Math.round(c)).padStart(14)).join("")}`;
}

export async function benchFailover(say: Say): Promise<void> {
  say(
    `failover: SIGKILL of the coordinator under load (${LOAD_TASKS} tasks, 2 balancers, ${WORKERS} workers; ` +
      `leader lease ${REPLICA_ENV.SCALEMESH_LEDGER_LEADER_LEASE_SEC} s, etcd registration ttl 2 s); medians of ${RUNS} runs, ms from the kill`,
  );
  const takeovers: FailoverRun[] = [];
  const restarts: FailoverRun[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    takeovers.push(await replicaTakeover(run));
    // Let the machine settle between meshes (ports, PostgreSQL's shutdown).
    await sleep(1_000);
    restarts.push(await loneRestart(run));
  }
  say(
    `${"".padEnd(44)}${["serving", "clients ok", "workers ok", "failed calls"].map((h) => h.padStart(14)).join("")}`,
  );
  say(row("standby takes over (PostgreSQL, 2 replicas)", takeovers));
  say(row("one coordinator restarted at once (SQLite)", restarts));
  const ratios = COLUMNS.slice(0, 3).map(
    (pick) => `${(medianOf(takeovers, pick) / medianOf(restarts, pick)).toFixed(2)}x`,
  );
  say(`${"takeover/restart".padEnd(44)}${ratios.map((r) => r.padStart(14)).join("")}`);
  say(
    "  the standby waits for the lease to run out (2-3 s after the kill); the restart needs a supervisor on a machine that survived",
  );
}
