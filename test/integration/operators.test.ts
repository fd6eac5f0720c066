// What an operator does through the CLI against a real mesh: drain, cordon,
// list, cancel and retry tasks.
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { TaskState, WorkerState } from "../../libs/contracts/index.js";
import { serviceEntry, stopAll } from "../support/service-process.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.stop();
  mesh = undefined;
  await stopAll();
});

function cli(
  m: Mesh,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    [serviceEntry("cli"), ...args, "--coordinator", `static://127.0.0.1:${m.coordinator.grpcPort}`],
    { encoding: "utf8", timeout: 20_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const sleepFor = (ms: number) => new TextEncoder().encode(JSON.stringify({ ms }));

describe("scalemesh drain", () => {
  it("lets the worker finish what it runs, then it leaves and exits 0; new work goes elsewhere", async () => {
    mesh = await startMesh({ workers: 2, slots: 2, handler: exampleHandler("sleep") });
    const m = mesh;
    const running = await Promise.all(
      [0, 1].map((i) =>
        m.balancerClient.assign({ task: { taskId: `long-${i}`, payload: sleepFor(1000) } }),
      ),
    );
    const target = running[0]?.workerId as string;
    const agent = m.workers[Number(target.split("-")[1]) - 1];
    const drained = cli(m, "drain", target, "--no-wait");
    expect(drained.status, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(new RegExp(`worker ${target} is draining`));
    const next = await m.balancerClient.assign({
      task: { taskId: "after-drain", payload: sleepFor(10) },
    });
    expect(next.workerId).not.toBe(target);
    expect(await agent?.exited).toBe(0);
    for (const { taskId } of running) {
      const task = (await m.admin.getTask({ taskId })).task;
      expect(task?.state).toBe(TaskState.SUCCEEDED);
      expect(task?.attempt).toBe(1);
    }
    const { workers } = await m.admin.listWorkers({ includeDead: true });
    expect(workers.find((w) => w.spec?.workerId === target)?.state).toBe(WorkerState.DEAD);
  }, 60_000);
});

describe("scalemesh cordon / uncordon", () => {
  it("stops new work reaching a worker until it is uncordoned", async () => {
    mesh = await startMesh({ workers: 1, slots: 4 });
    const m = mesh;
    expect(cli(m, "cordon", "worker-1").stdout).toMatch(/worker worker-1 is cordoned, alive/);
    const queued = await m.balancerClient.assign({
      task: { taskId: "while-cordoned", payload: new TextEncoder().encode("x") },
    });
    expect(queued.state).toBe(TaskState.PENDING);
    expect(cli(m, "uncordon", "worker-1").status).toBe(0);
    const done = await m.balancerClient.awaitTask(
      { taskId: "while-cordoned" },
      { timeoutMs: 10_000 },
    );
    expect(done.task?.state).toBe(TaskState.SUCCEEDED);
    const unknown = cli(m, "cordon", "ghost");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/worker ghost is not registered \(NOT_FOUND\)/);
  }, 60_000);
});

describe("scalemesh tasks / cancel / retry", () => {
  it("cancels a running task on its worker, lists it, and runs a dead-lettered task again", async () => {
    mesh = await startMesh({
      workers: 1,
      slots: 2,
      handler: exampleHandler("sleep"),
      env: { SCALEMESH_COORDINATOR_DEFAULT_MAX_ATTEMPTS: "1" },
    });
    const m = mesh;
    await m.balancerClient.assign({ task: { taskId: "to-cancel", payload: sleepFor(20_000) } });
    await m.balancerClient.assign({
      task: { taskId: "bad-payload", payload: new TextEncoder().encode("not json") },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cancelled = cli(m, "cancel", "to-cancel", "--reason", "changed my mind");
    expect(cancelled.stdout).toMatch(/task to-cancel is cancelled/);
    const finished = await m.balancerClient.awaitTask(
      { taskId: "bad-payload" },
      { timeoutMs: 10_000 },
    );
    expect(finished.task?.state).toBe(TaskState.DEAD_LETTERED);
    const listed = cli(m, "tasks", "--state", "dead_lettered");
    expect(listed.stdout).toMatch(/bad-payload\s+dead_lettered\s+1/);
    expect(cli(m, "tasks", "--state", "sideways").status).toBe(2);
    const retried = cli(m, "retry", "bad-payload");
    expect(retried.stdout).toMatch(/task bad-payload is pending, attempt 2/);
    const again = await m.balancerClient.awaitTask(
      { taskId: "bad-payload" },
      { timeoutMs: 10_000 },
    );
    expect(again.task?.state).toBe(TaskState.DEAD_LETTERED);
    expect(again.task?.history.map((h) => h.attempt)).toEqual([1, 2]);
    // The worker stopped the cancelled handler: its slot is free again.
    const cancelledTask = (await m.admin.getTask({ taskId: "to-cancel" })).task;
    expect(cancelledTask?.state).toBe(TaskState.CANCELLED);
    expect(cancelledTask?.error).toBe("cancelled: changed my mind");
    const metrics = await (
      await fetch(`http://127.0.0.1:${m.workers[0]?.httpPort}/metrics`)
    ).text();
    expect(metrics).toMatch(/scalemesh_worker_tasks_total\{[^}]*outcome="cancelled"[^}]*\} 1/);
    // Purge: final tasks that finished more than 1 s ago are deleted, from the ledger too.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const purged = cli(m, "purge", "--older-than", "1s");
    expect(purged.stdout).toMatch(/purged 2 final task\(s\)/);
    expect(cli(m, "tasks").stdout).toBe("no tasks match\n");
    expect(cli(m, "purge", "--older-than", "soon").status).toBe(2);
  }, 60_000);
});
