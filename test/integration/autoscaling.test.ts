// The autoscaler on a real mesh with the local provider: worker agents are
// real child processes of the coordinator. A load ramp grows the fleet from
// 1 to 4 workers, a lull shrinks it back to 1, and every task finishes
// exactly once on its first attempt (a scale-down drains, it cuts nothing off).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Balancer, TaskState, WorkerState } from "../../libs/contracts/index.js";
import type { RpcClient } from "../../libs/rpc/index.js";
import { startAutoscalingMesh, type AutoscalingMesh } from "../support/autoscaling-mesh.js";
import { until } from "../support/until.js";
import { exampleHandler, FAST_FAILURE_ENV } from "../support/mesh.js";

const SYNC_SEC = 0.5;
let mesh: AutoscalingMesh;
let admin: RpcClient<typeof Admin>;
let client: RpcClient<typeof Balancer>;

beforeAll(async () => {
  mesh = await startAutoscalingMesh({
    ...FAST_FAILURE_ENV,
    SCALEMESH_SCALING_MIN_WORKERS: "1",
    SCALEMESH_SCALING_MAX_WORKERS: "4",
    // No burst mode here: 4 is the ceiling (bursts have their own table tests).
    SCALEMESH_SCALING_BURST_FACTOR: "1",
    SCALEMESH_SCALING_SYNC_INTERVAL_SEC: String(SYNC_SEC),
    SCALEMESH_SCALING_COOL_DOWN_SEC: "1",
    SCALEMESH_AUTOSCALER_SCALE_DOWN_STABILIZATION_SEC: "3",
    SCALEMESH_AUTOSCALER_SCALE_UP_PERIOD_SEC: "1",
    SCALEMESH_AUTOSCALER_SCALE_DOWN_PERIOD_SEC: "1",
    SCALEMESH_AUTOSCALER_LOCAL_SLOTS: "2",
    SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("sleep"),
    SCALEMESH_AUTOSCALER_WORKER_START_TIMEOUT_SEC: "30",
  });
  admin = mesh.admin;
  client = mesh.client;
});

afterAll(async () => {
  await mesh?.stop();
});

async function aliveWorkers(): Promise<string[]> {
  const { workers } = await admin.listWorkers({});
  return workers.filter((w) => w.state === WorkerState.ALIVE).map((w) => w.spec?.workerId ?? "");
}

/** Runs `total` tasks of `ms` each with `inFlight` at a time; returns their ids. */
async function runLoad(
  total: number,
  inFlight: number,
  ms: number,
  onProgress: () => Promise<void>,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      const assigned = await client.assign({
        task: { payload: new TextEncoder().encode(JSON.stringify({ ms })) },
      });
      ids.push(assigned.taskId);
      await client.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 60_000 });
      await onProgress();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return ids;
}

describe("autoscaling with the local provider", () => {
  it("grows from 1 to 4 workers under a load ramp and shrinks back in the lull, finishing every task once", async () => {
    expect(
      await until(
        "the first worker",
        async () => ((await aliveWorkers()).length === 1 ? true : undefined),
        30_000,
      ),
    ).toBe(true);

    let peak = 1;
    const watchPeak = async () => {
      peak = Math.max(peak, (await aliveWorkers()).length);
    };
    // The ramp: 2 slots are enough at first, then 4× that, then more than 4 workers hold.
    const ids = [
      ...(await runLoad(20, 2, 100, watchPeak)),
      ...(await runLoad(120, 8, 300, watchPeak)),
      ...(await runLoad(200, 16, 300, watchPeak)),
    ];
    expect(peak).toBe(4);

    // The lull: back to min_workers once the down stabilization window has passed.
    await until(
      "the fleet back at 1 worker",
      async () => ((await aliveWorkers()).length === 1 ? true : undefined),
      60_000,
    );

    // Every task succeeded, on its first attempt: no scale-down cut one off.
    const tasks = await Promise.all(ids.map((taskId) => admin.getTask({ taskId })));
    expect(new Set(ids).size).toBe(340);
    expect(tasks.filter((t) => t.task?.state === TaskState.SUCCEEDED)).toHaveLength(340);
    expect(tasks.filter((t) => (t.task?.attempt ?? 0) !== 1)).toHaveLength(0);

    // The decisions were recorded with their reasons, and the status adds up.
    const { events } = await admin.getScalingHistory({ pageSize: 1000 });
    const actions = events.filter((e) => e.action !== "");
    expect(actions.filter((e) => e.action.startsWith("start")).map((e) => e.reason)).toContain(
      "ScaleUp",
    );
    expect(actions.filter((e) => e.action.includes("drain")).length).toBeGreaterThan(0);
    expect(events.filter((e) => e.error !== "").map((e) => `${e.reason}: ${e.error}`)).toEqual([]);
    // The status is the last sync's reading; the next one sees the drained workers gone.
    const status = await until(
      "the status to read 1 ready worker",
      async () => {
        const current = await admin.getScalingStatus({});
        return current.currentWorkers === 1 ? current : undefined;
      },
      10_000,
    );
    expect(status).toMatchObject({
      autoscalingEnabled: true,
      provider: "local",
      currentWorkers: 1,
      degraded: false,
    });
    expect(Number(status.scaleUps)).toBeGreaterThanOrEqual(1);
    expect(Number(status.scaleDowns)).toBeGreaterThanOrEqual(1);
    expect(status.meanTimeToHealthySec).toBeGreaterThan(0);
  });

  it("restarts a worker that dies, and a manual target holds until autoscaling is back on", async () => {
    const [victim] = await aliveWorkers();
    expect(victim).toBeDefined();
    // The local provider's child, found by its worker id on the command line
    // among this coordinator's children (another test's mesh may run the same id).
    const { execFileSync } = await import("node:child_process");
    const parent = String(mesh.coordinator.child.pid);
    const pid = execFileSync("pgrep", ["-P", parent, "-f", "--", `--worker-id ${victim} `])
      .toString()
      .trim()
      .split("\n")[0];
    process.kill(Number(pid), "SIGKILL");
    const recovered = await until(
      "the dead worker restarted",
      async () => {
        const { events } = await admin.getScalingHistory({ pageSize: 50 });
        return events.find((e) => e.reason === "Recovering" && e.action === `replace ${victim}`);
      },
      30_000,
    );
    expect(recovered.message).toContain("restart 1 of");
    await until(
      "the restarted worker registered again",
      async () => ((await aliveWorkers()).includes(victim as string) ? true : undefined),
      30_000,
    );

    const manual = await admin.scaleWorkers({ workers: 3 });
    expect(manual.status).toMatchObject({
      autoscalingEnabled: false,
      mode: "manual",
      desiredWorkers: 3,
    });
    await until(
      "3 workers by hand",
      async () => ((await aliveWorkers()).length === 3 ? true : undefined),
      30_000,
    );
    const back = await admin.setAutoscaling({ enabled: true });
    expect(back.status?.autoscalingEnabled).toBe(true);
  });
});

describe("scale to zero", () => {
  it("queues the first task while the fleet is at zero, wakes it, and runs the task", async () => {
    const zero = await startAutoscalingMesh({
      ...FAST_FAILURE_ENV,
      SCALEMESH_AUTOSCALER_SCALE_TO_ZERO: "true",
      SCALEMESH_SCALING_MIN_WORKERS: "0",
      SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "1",
      SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("echo"),
    });
    const zeroAdmin = zero.admin;
    const zeroClient = zero.client;
    try {
      expect((await zeroAdmin.listWorkers({})).workers).toHaveLength(0);
      const assigned = await zeroClient.assign({
        task: { payload: new TextEncoder().encode("wake up") },
      });
      expect(assigned.state).toBe(TaskState.PENDING);
      const { task } = await zeroClient.awaitTask(
        { taskId: assigned.taskId },
        { timeoutMs: 30_000 },
      );
      expect(task?.state).toBe(TaskState.SUCCEEDED);
      expect(new TextDecoder().decode(task?.output)).toBe("WAKE UP");
      const { events } = await zeroAdmin.getScalingHistory({ pageSize: 100 });
      expect(
        events.some((e) => e.reason === "WakeFromZero" && e.action.startsWith("start 1")),
      ).toBe(true);
    } finally {
      await zero.stop();
    }
  });
});
