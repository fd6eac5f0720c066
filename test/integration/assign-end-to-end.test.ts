// Assign through the whole path on real processes: balancer -> coordinator ->
// worker agents -> results, and what happens when a worker dies mid-task.
import { afterEach, describe, expect, it } from "vitest";
import { TaskState, type Task } from "../../libs/contracts/index.js";
import { stopAll } from "../support/service-process.js";
import { FAST_FAILURE_ENV, exampleHandler, startMesh, type Mesh } from "../support/mesh.js";

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.stop();
  mesh = undefined;
  await stopAll();
});

async function workerMetric(port: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** Runs `count` items through `work` with at most `concurrency` in flight. */
async function inParallel<T>(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

describe("Assign end to end", () => {
  it("runs 1,000 tasks through the balancer, each SUCCEEDED exactly once", async () => {
    mesh = await startMesh({ workers: 3, slots: 8 });
    const m = mesh;
    const count = Number(process.env.SCALEMESH_TEST_TASKS ?? 1000);
    const assigned = await inParallel(count, 64, (i) =>
      m.balancerClient.assign({
        task: { taskId: `e2e-${i}`, payload: new TextEncoder().encode(`task ${i}`) },
      }),
    );
    expect(new Set(assigned.map((a) => a.taskId)).size).toBe(count);
    const finished = await inParallel(
      count,
      64,
      async (i) =>
        (await m.balancerClient.awaitTask({ taskId: `e2e-${i}` }, { timeoutMs: 60_000 }))
          .task as Task,
    );
    for (const [i, task] of finished.entries()) {
      expect(task.state, task.spec?.taskId).toBe(TaskState.SUCCEEDED);
      expect(task.attempt).toBe(1);
      expect(new TextDecoder().decode(task.output)).toBe(`TASK ${i}`);
    }
    // Exactly once from the workers' side too: the handlers ran `count` times in all.
    let ran = 0;
    for (const worker of m.workers)
      ran += await workerMetric(
        worker.httpPort,
        "scalemesh_worker_tasks_total",
        'outcome="succeeded"',
      );
    expect(ran).toBe(count);
    const status = await m.admin.getClusterStatus({});
    expect(status.tasksByState.SUCCEEDED).toBe(BigInt(count));
    // Every worker took a share.
    const { workers } = await m.admin.listWorkers({});
    for (const worker of workers) expect(Number(worker.tasksSucceeded)).toBeGreaterThan(count / 10);
  }, 120_000);

  it("finishes a SIGKILLed worker's tasks on another worker with attempt 2", async () => {
    mesh = await startMesh({
      workers: 2,
      slots: 4,
      handler: exampleHandler("sleep"),
      env: FAST_FAILURE_ENV,
    });
    const m = mesh;
    const payload = new TextEncoder().encode(JSON.stringify({ ms: 1500 }));
    const assigned = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        m.balancerClient.assign({ task: { taskId: `kill-${i}`, payload } }),
      ),
    );
    const victim = m.workers.find((w) =>
      assigned.some((a) => a.workerId === `worker-${m.workers.indexOf(w) + 1}`),
    );
    expect(victim).toBeDefined();
    const victimId = `worker-${m.workers.indexOf(victim!) + 1}`;
    const onVictim = assigned.filter((a) => a.workerId === victimId).map((a) => a.taskId);
    expect(onVictim.length).toBeGreaterThan(0);
    // Kill it while its tasks run (they sleep 1.5 s).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await victim!.stop("SIGKILL");
    const finished = await Promise.all(
      assigned.map(
        async (a) =>
          (await m.balancerClient.awaitTask({ taskId: a.taskId }, { timeoutMs: 30_000 }))
            .task as Task,
      ),
    );
    for (const task of finished) {
      expect(task.state).toBe(TaskState.SUCCEEDED);
      if (onVictim.includes(task.spec?.taskId ?? "")) {
        expect(task.attempt).toBe(2);
        expect(task.workerId).not.toBe(victimId);
        expect(task.history).toHaveLength(1);
        expect(task.history[0]?.workerId).toBe(victimId);
        expect(task.history[0]?.error).toMatch(/died/);
      } else {
        expect(task.attempt).toBe(1);
      }
    }
    const victimStatus = await m.admin.getWorker({ workerId: victimId });
    expect(victimStatus.worker?.state).toBeDefined();
  }, 60_000);
});
