// Two coordinator replicas on one real PostgreSQL, found through a real etcd
// (test/support/replica-cluster.ts): the first leads and is the only one in
// etcd; the other answers every method UNAVAILABLE naming the leader, says
// NOT_SERVING to gRPC health and 503 on /readyz, and stops cleanly on
// SIGTERM. A graceful stop of the leader releases its lease (a user lease
// taken from it holds on the next leader, token and all): the standby
// leads at once, registers, and the worker and the balancer follow it there
// through etcd.
import { afterEach, describe, expect, it } from "vitest";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Leases, TaskState, WorkerState } from "../../libs/contracts/index.js";
import { Code, createRpcClient, toConnectError } from "../../libs/rpc/index.js";
import { Coordinator } from "../../libs/contracts/index.js";
import { waitUntil } from "../support/fault-cluster.js";
import {
  healthStatus,
  startReplicaCluster,
  type ReplicaCluster,
} from "../support/replica-cluster.js";
import { stopAll } from "../support/service-process.js";

let cluster: ReplicaCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await stopAll();
});

describe("coordinator replicas", () => {
  it("one leads and is the only one in discovery; the standby refuses every call naming it", async () => {
    cluster = await startReplicaCluster({ coordinators: 2, workers: 1, slots: 2 });
    const [leader, standby] = cluster.coordinators as [
      (typeof cluster.coordinators)[0],
      (typeof cluster.coordinators)[0],
    ];
    expect(await cluster.leaseRow()).toMatchObject({ holder: leader.address, epoch: 1 });
    await waitUntil(
      "the leader registered in etcd",
      5_000,
      async () => (await cluster?.registeredCoordinators())?.includes(leader.address) === true,
    );
    expect(await cluster.registeredCoordinators()).toEqual([leader.address]);

    const expected = `standby; the leader is ${leader.address}`;
    const refusal = toConnectError(
      await standby.admin.getClusterStatus({}).catch((error: unknown) => error),
    );
    expect(refusal.code).toBe(Code.Unavailable);
    expect(refusal.rawMessage).toBe(expected);
    // A streaming method refuses the same way.
    const coordinatorClient = createRpcClient(Coordinator, `127.0.0.1:${standby.grpcPort}`);
    try {
      const watch = toConnectError(
        await (async () => {
          for await (const _ of coordinatorClient.watchCluster({})) return undefined;
        })().catch((error: unknown) => error),
      );
      expect(watch.code).toBe(Code.Unavailable);
      expect(watch.rawMessage).toBe(expected);
    } finally {
      coordinatorClient.close();
    }
    for (const service of ["", "scalemesh.v1.Coordinator", "scalemesh.v1.Admin"]) {
      expect(await healthStatus(standby.grpcPort, service)).toBe("NOT_SERVING");
      expect(await healthStatus(leader.grpcPort, service)).toBe("SERVING");
    }
    const ready = await fetch(`http://127.0.0.1:${standby.httpPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe(`not ready: ${expected}\n`);
    expect((await fetch(`http://127.0.0.1:${standby.httpPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${leader.httpPort}/readyz`)).status).toBe(200);
    // A standby stops cleanly on SIGTERM, and the leader goes on leading.
    expect(await standby.process.stop("SIGTERM")).toBe(0);
    expect(await cluster.leaseRow()).toMatchObject({ holder: leader.address, epoch: 1 });
  }, 90_000);

  it("hands over at once on a graceful stop; the worker and the balancer follow through etcd", async () => {
    cluster = await startReplicaCluster({ coordinators: 2, workers: 1, slots: 2 });
    const c = cluster;
    const [leader, standby] = c.coordinators as [
      (typeof c.coordinators)[0],
      (typeof c.coordinators)[0],
    ];
    // A user's lease taken from the leader must hold on the next one, token and all.
    const onLeader = createRpcClient(Leases, leader.address);
    const held = await onLeader.acquireLease({
      name: "report",
      holder: "job-a",
      ttl: durationFromMs(60_000),
    });
    onLeader.close();
    expect(held.acquired).toBe(true);
    const stoppedAtMs = Date.now();
    expect(await leader.process.stop("SIGTERM")).toBe(0);
    const acquired = await standby.process.waitForLog(
      (l) => l.msg === "leader lease acquired; this coordinator leads",
      10_000,
    );
    const listening = await standby.process.waitForLog(
      (l) => l.msg === "coordinator listening",
      10_000,
    );
    expect(await c.leaseRow()).toMatchObject({ holder: standby.address, epoch: 2 });
    await waitUntil("only the new leader in etcd", 10_000, async () => {
      const registered = await c.registeredCoordinators();
      return registered.length === 1 && registered[0] === standby.address;
    });
    await waitUntil("the worker ALIVE on the new leader", 15_000, async () =>
      (await standby.admin.listWorkers({})).workers.some((w) => w.state === WorkerState.ALIVE),
    );
    expect(await healthStatus(standby.grpcPort, "scalemesh.v1.Coordinator")).toBe("SERVING");
    const client = c.balancerClients[0];
    if (!client) throw new Error("no balancer");
    let taskState: TaskState | undefined;
    await waitUntil("a task runs through the balancer on the new leader", 15_000, async () => {
      const response = await client.assign(
        { task: { taskId: "after-handover", payload: new TextEncoder().encode('{"ms": 10}') } },
        { timeoutMs: 2_000 },
      );
      const done = await client.awaitTask({ taskId: response.taskId }, { timeoutMs: 5_000 });
      taskState = done.task?.state;
      return true;
    });
    expect(taskState).toBe(TaskState.SUCCEEDED);
    const onNext = createRpcClient(Leases, standby.address);
    expect(
      await onNext.acquireLease({ name: "report", holder: "job-b", ttl: durationFromMs(60_000) }),
    ).toMatchObject({ acquired: false, holder: "job-a", fencingToken: held.fencingToken });
    await onNext.renewLease({ name: "report", holder: "job-a", fencingToken: held.fencingToken });
    onNext.close();
    console.log(
      `[replicas] graceful handover: the leader stopped at +0 ms; the standby took the lease at +${Date.parse(String(acquired.time)) - stoppedAtMs} ms and listened at +${Date.parse(String(listening.time)) - stoppedAtMs} ms`,
    );
  }, 90_000);
});
