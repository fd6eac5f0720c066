// A mesh whose ledger is in PostgreSQL (a real server, SCALEMESH_LEDGER_URL),
// killed and started again as a whole new mesh on the same database: the
// coordinator recovers every task from the database (the new mesh's SQLite
// path is a fresh, empty one), runs again the tasks that were on workers when
// it died, and keeps the scaling decisions it had made. The url carries a
// password, which no log line may show.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TaskState, type Task } from "../../libs/contracts/index.js";
import { exampleHandler, startMesh, type Mesh } from "../support/mesh.js";
import { startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { stopAll } from "../support/service-process.js";
import { until } from "../support/until.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgresServer();
});
afterAll(() => server?.close());

const meshes: Mesh[] = [];
afterEach(async () => {
  for (const mesh of meshes.splice(0)) await mesh.stop();
  await stopAll();
});

const FAST = 30;
const SLOW = 4;
const SLOW_MS = 2_000;

const payload = (ms: number): Uint8Array => new TextEncoder().encode(JSON.stringify({ ms }));

async function startOnLedger(url: string): Promise<Mesh> {
  const mesh = await startMesh({
    workers: 2,
    slots: 4,
    handler: exampleHandler("sleep"),
    env: {
      SCALEMESH_LEDGER_URL: url,
      SCALEMESH_COORDINATOR_RECOVERY_GRACE_SEC: "1",
      // Deciding, over workers it cannot start or stop itself: its decisions go in the history.
      SCALEMESH_AUTOSCALER_ENABLED: "true",
      SCALEMESH_SCALING_DEPLOYMENT_MODE: "external",
      SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "0.5",
    },
  });
  meshes.push(mesh);
  return mesh;
}

async function allTasks(mesh: Mesh): Promise<Task[]> {
  const tasks: Task[] = [];
  let pageToken = "";
  do {
    const page = await mesh.admin.listTasks({ pageSize: 100, pageToken });
    tasks.push(...page.tasks);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return tasks;
}

describe("the ledger on PostgreSQL", () => {
  it("keeps a mesh's tasks and scaling decisions when the mesh is killed and started again", async () => {
    const database = (await server.createDatabase()).split("/").at(-1) ?? "";
    const url = server.url(database, "s3cret");
    const shownUrl = `postgres://postgres@127.0.0.1:${server.port}/${database}`;

    const first = await startOnLedger(url);
    for (let i = 0; i < FAST; i += 1)
      await first.balancerClient.assign({ task: { taskId: `fast-${i}`, payload: payload(0) } });
    for (let i = 0; i < FAST; i += 1) {
      const { task } = await first.balancerClient.awaitTask({ taskId: `fast-${i}` });
      expect(task?.state).toBe(TaskState.SUCCEEDED);
    }
    for (let i = 0; i < SLOW; i += 1)
      await first.balancerClient.assign({
        task: { taskId: `slow-${i}`, payload: payload(SLOW_MS) },
      });
    // Each slow task has started on a worker when the coordinator dies.
    for (let i = 0; i < SLOW; i += 1)
      await until(
        `slow-${i} running`,
        async () => {
          const { task } = await first.admin.getTask({ taskId: `slow-${i}` });
          return task?.state === TaskState.RUNNING ? task : undefined;
        },
        10_000,
      );
    const decisions = (await first.admin.getScalingHistory({ pageSize: 1000 })).events;
    expect(decisions.length).toBeGreaterThan(0);
    first.coordinator.child.kill("SIGKILL");
    await first.coordinator.exited;
    await first.stop();
    meshes.splice(0);

    const second = await startOnLedger(url);
    const recovered = await second.coordinator.waitForLog(
      (l) => l.msg === "task ledger recovered",
      1_000,
    );
    expect(recovered).toMatchObject({ tasks: FAST + SLOW, unfinishedOnWorkers: SLOW });
    for (let i = 0; i < SLOW; i += 1) {
      const { task } = await second.balancerClient.awaitTask(
        { taskId: `slow-${i}` },
        { timeoutMs: 30_000 },
      );
      expect(task).toMatchObject({ state: TaskState.SUCCEEDED, attempt: 2 });
      expect(new TextDecoder().decode(task?.output)).toBe(`slept ${SLOW_MS} ms`);
    }
    const tasks = await allTasks(second);
    expect(tasks.map((t) => t.spec?.taskId).sort()).toEqual(
      [
        ...Array.from({ length: FAST }, (_, i) => `fast-${i}`),
        ...Array.from({ length: SLOW }, (_, i) => `slow-${i}`),
      ].sort(),
    );
    for (const task of tasks.filter((t) => t.spec?.taskId.startsWith("fast-"))) {
      expect(task).toMatchObject({ state: TaskState.SUCCEEDED, attempt: 1 });
      expect(new TextDecoder().decode(task.output)).toBe("slept 0 ms");
    }
    // The first mesh's decisions are still there, below the second's.
    const history = (await second.admin.getScalingHistory({ pageSize: 1000 })).events;
    const ids = new Set(history.map((e) => e.id));
    for (const decision of decisions) expect(ids.has(decision.id), String(decision.id)).toBe(true);

    const listening = second.coordinator.logs.find((l) => l.msg === "coordinator listening");
    expect(listening?.ledger).toBe(shownUrl);
    for (const line of [...first.coordinator.logs, ...second.coordinator.logs])
      expect(JSON.stringify(line)).not.toContain("s3cret");
  }, 120_000);
});
