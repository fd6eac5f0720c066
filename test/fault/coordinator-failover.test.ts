// Fault: the leader of two coordinator replicas fails under load (real
// processes: a real PostgreSQL holding the ledger and the leader lease, a real
// etcd where only the leader registers, two balancers and four worker agents
// that find the coordinator through etcd alone, running the counting sleep
// handler; 10,000 tasks, or SCALEMESH_FAULT_TASKS if more).
//   (a) SIGKILL: the standby takes the lease once it runs out, reads the
//       ledger, serves, and registers; workers and balancers follow it.
//   (b) SIGSTOP for longer than the lease, then SIGCONT: the same takeover
//       happens while the old leader is frozen; once it wakes it finds its
//       lease gone, commits nothing (its writes are fenced) and exits with
//       status 3 (to come back as a standby under a supervisor).
// Either way every accepted task ends SUCCEEDED exactly once, as the new
// leader and the database both say, and no handler ran its final attempt
// twice. The database is compared with the new leader's memory after the old
// one woke up: a stale write of the old leader would show there. The
// takeover is printed: when the lease was taken, when the new leader listened,
// when etcd, the workers and the balancers followed, and what clients saw.
// The lease is 3 s here (REPLICA_ENV); the one time assertion is the issue's
// bound: a standby leads within 5 s of the fault.
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Task } from "../../libs/contracts/index.js";
import { WorkerState } from "../../libs/contracts/index.js";
import {
  auditAcceptedTasks,
  faultTaskCount,
  listAllTasks,
  logTimeMs,
  readExecutions,
  summarize,
  waitForAllFinal,
  waitUntil,
} from "../support/fault-cluster.js";
import { unavailableWindow } from "../support/load.js";
import { loadUntilAThird } from "../support/fault-run.js";
import {
  startReplicaCluster,
  type CoordinatorReplica,
  type ReplicaCluster,
} from "../support/replica-cluster.js";
import { stopAll } from "../support/service-process.js";

/** The bound on a takeover. */
const TAKEOVER_BOUND_MS = 5_000;
/** How long (b) keeps the leader frozen: well past its 3 s lease. */
const FROZEN_MS = 8_000;
/** The exit status of a coordinator that lost its lease (services/coordinator/leadership.ts). */
const EXIT_LEADERSHIP_LOST = 3;

let cluster: ReplicaCluster | undefined;
let stopLoad: AbortController | undefined;
afterEach(async () => {
  stopLoad?.abort();
  await cluster?.stop();
  cluster = undefined;
  await stopAll();
});

type Fault = "SIGKILL" | "SIGSTOP";

describe("fault: the leader coordinator fails under load; the standby takes over", () => {
  it("(a) SIGKILL of the leader: a standby leads, nothing is lost or run twice", async () => {
    await failover("SIGKILL");
  }, 240_000);

  it("(b) SIGSTOP of the leader past its lease: a standby leads; the old one wakes, commits nothing, steps down", async () => {
    await failover("SIGSTOP");
  }, 240_000);
});

async function failover(fault: Fault): Promise<void> {
  try {
    await failoverUnderLoad(fault);
  } catch (error) {
    // What the coordinators said about the lease and their warnings, to read a failure by.
    for (const r of cluster?.coordinators ?? [])
      console.log(
        `[failover ${fault}] ${r.name} (${r.address}, exit ${r.process.child.exitCode ?? r.process.child.signalCode ?? "none"}):`,
        JSON.stringify(
          r.process.logs
            .filter(
              (l) =>
                Number(l.level) >= 40 ||
                /lease|leads|listening|standby|recovered/.test(String(l.msg)),
            )
            .slice(-30),
        ),
      );
    throw error;
  }
}

async function failoverUnderLoad(fault: Fault): Promise<void> {
  cluster = await startReplicaCluster({ coordinators: 2, workers: 4, slots: 16, balancers: 2 });
  const c = cluster;
  const [old, next] = c.coordinators as [CoordinatorReplica, CoordinatorReplica];
  const count = Math.max(10_000, faultTaskCount());
  stopLoad = new AbortController();
  const { loading } = await loadUntilAThird({
    clients: c.balancerClients,
    count,
    idPrefix: fault === "SIGKILL" ? "fkill" : "fstop",
    signal: stopLoad.signal,
  });

  const faultAtMs = Date.now();
  old.process.child.kill(fault);
  if (fault === "SIGKILL") await old.process.exited;
  const acquired = await next.process.waitForLog(
    (l) => l.msg === "leader lease acquired; this coordinator leads",
    15_000,
  );
  const listening = await next.process.waitForLog((l) => l.msg === "coordinator listening", 15_000);
  const recovered = await next.process.waitForLog((l) => l.msg === "task ledger recovered", 1_000);
  await waitUntil("etcd lists only the new leader", 15_000, async () => {
    const registered = await c.registeredCoordinators();
    return registered.length === 1 && registered[0] === next.address;
  });
  const etcdFollowedMs = Date.now();
  await waitUntil(
    "all four workers ALIVE on the new leader",
    15_000,
    async () =>
      (await next.admin.listWorkers({})).workers.filter((w) => w.state === WorkerState.ALIVE)
        .length === 4,
  );
  const workersBackMs = Date.now();
  const resynced = await Promise.all(
    c.balancers.map((b) =>
      b.waitForLog(
        (l) => l.msg === "cluster view synced" && logTimeMs(l) >= logTimeMs(listening),
        15_000,
      ),
    ),
  );

  // (b): the old leader wakes up well past its lease, with workers' messages waiting in its sockets.
  let wokeAtMs: number | undefined;
  if (fault === "SIGSTOP") {
    await sleep(Math.max(0, faultAtMs + FROZEN_MS - Date.now()));
    wokeAtMs = Date.now();
    old.process.child.kill("SIGCONT");
    const code = await Promise.race([old.process.exited, sleep(10_000, "still running")]);
    expect(code, "the woken leader steps down and exits").toBe(EXIT_LEADERSHIP_LOST);
  }

  const load = await loading;
  expect([...load.refused].map(([id, e]) => `${id}: ${e.rawMessage}`)).toEqual([]);
  expect(load.accepted.size).toBe(count);
  await waitForAllFinal(next.admin, count, 120_000);
  const { tasks, listedTwice } = await listAllTasks(next.admin);
  const database = await settledDatabase(c, tasks);
  const executions = readExecutions(c.execDir);
  const problems = auditAcceptedTasks({
    accepted: load.accepted.keys(),
    tasks,
    ledgerFile: database,
    executions,
    listedTwice,
  });

  // What it cost, printed before the assertions so a failing run says it too.
  const at = (ms: number): string => `+${ms - faultAtMs} ms`;
  const window = unavailableWindow(load.failedCalls);
  const retried = [...load.acceptedAfterRetryMs.values()].sort((a, b) => a - b);
  const again = [...tasks.values()].filter((t) => t.attempt > 1).length;
  const oldLogs = old.process.logs;
  const lost = oldLogs.find((l) => l.msg === "leader lease lost; stepping down");
  const fencedWrites = oldLogs.filter(
    (l) => l.msg === "task ledger write failed; refusing new tasks until it recovers",
  );
  console.log(
    `[failover ${fault}] ${count} tasks in ${load.elapsedMs} ms; leader ${old.address} got ${fault} at ${new Date(faultAtMs).toISOString()}; ` +
      `${next.address} took the lease (epoch ${String(acquired.epoch)}) at ${at(logTimeMs(acquired))}, listened at ${at(logTimeMs(listening))} ` +
      `(recovered ${String(recovered.tasks)} tasks, ${String(recovered.unfinishedOnWorkers)} on ${String(recovered.workersAwaited)} workers); ` +
      `etcd listed only it by ${at(etcdFollowedMs)}, all workers ALIVE on it by ${at(workersBackMs)}, balancers re-synced at ${resynced.map((l) => at(logTimeMs(l))).join(", ")}; ` +
      (wokeAtMs !== undefined
        ? `the old leader woke at ${at(wokeAtMs)}, stepped down at ${lost ? at(logTimeMs(lost)) : "?"} (${String(lost?.reason)}), ${fencedWrites.length} write(s) refused (${fencedWrites
            .map((l) => String(l.err))
            .slice(0, 1)
            .join("")}); `
        : "") +
      `clients saw ${load.failedCalls.length} failed Assign calls (codes ${[...new Set(load.failedCalls.map((f) => f.code))].join(",")}) ` +
      `from ${window ? at(window.firstMs) : "-"} to ${window ? at(window.lastMs) : "-"}; ${retried.length} tasks accepted on a retry, longest wait ${retried.at(-1)} ms; ` +
      `${again} tasks needed another attempt`,
  );

  expect(summarize(problems)).toEqual([]);
  expect([...tasks.keys()].filter((id) => !load.accepted.has(id))).toEqual([]);
  expect(database.size).toBe(tasks.size);
  expect(logTimeMs(acquired) - faultAtMs).toBeLessThan(TAKEOVER_BOUND_MS);
  if (fault === "SIGSTOP") expect(lost, "the woken leader says it lost its lease").toBeDefined();
}

/** The ledger in the database once it agrees with the leader on every task's state (its group commit may trail Admin by a moment). */
async function settledDatabase(
  c: ReplicaCluster,
  tasks: Map<string, Task>,
): Promise<Map<string, Task>> {
  let database = new Map<string, Task>();
  await waitUntil("the database agrees with the leader on every task", 10_000, async () => {
    database = await c.readLedger();
    return [...tasks.values()].every((t) => database.get(t.spec?.taskId ?? "")?.state === t.state);
  });
  return database;
}
