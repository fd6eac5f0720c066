// Predictive scaling on a real mesh: coordinator, optimizer, balancer and
// the coordinator's own worker agents. A steadily rising load makes the
// optimizer's demand forecast call for more workers than the measured load
// does, and the coordinator starts them while utilization is still inside
// its band (below scale_up_threshold), i.e. ahead of the reactive rule. With
// the optimizer gone, the coordinator goes on reactively and says so.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAutoscalingMesh, type AutoscalingMesh } from "../support/autoscaling-mesh.js";
import { until } from "../support/until.js";
import { exampleHandler } from "../support/mesh.js";

const SCALE_UP_THRESHOLD = 0.8;
let mesh: AutoscalingMesh;

beforeAll(async () => {
  mesh = await startAutoscalingMesh(
    {
      SCALEMESH_SCALING_MIN_WORKERS: "1",
      SCALEMESH_SCALING_MAX_WORKERS: "6",
      SCALEMESH_SCALING_BURST_FACTOR: "1",
      SCALEMESH_SCALING_SCALE_UP_THRESHOLD: String(SCALE_UP_THRESHOLD),
      SCALEMESH_SCALING_SCALE_DOWN_THRESHOLD: "0.3",
      SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "0.5",
      SCALEMESH_AUTOSCALER_LOCAL_SLOTS: "4",
      SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("sleep"),
    },
    { withOptimizer: true },
  );
});

afterAll(async () => {
  await mesh?.stop();
});

describe("predictive scaling", () => {
  it("starts workers ahead of a forecast rise, while the measured load is still within its band", async () => {
    const { admin, client } = mesh;
    await until(
      "the first worker",
      async () => ((await admin.listWorkers({})).workers.length === 1 ? true : undefined),
      30_000,
    );
    await until(
      "a forecast from the optimizer",
      async () =>
        (await admin.getScalingStatus({})).predictive.startsWith("predictive:") ? true : undefined,
      15_000,
    );

    // A ramp: one more lane of 1.5 s tasks every 400 ms, up to 16 lanes (bounded: 240 tasks in all).
    let isLoading = true;
    let tasks = 0;
    const lanes: Promise<void>[] = [];
    const runLane = async (): Promise<void> => {
      while (isLoading && tasks < 240) {
        tasks += 1;
        const assigned = await client.assign({
          task: { payload: new TextEncoder().encode(JSON.stringify({ ms: 1500 })) },
        });
        await client.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 60_000 });
      }
    };
    try {
      const predictive = await until(
        "a predictive scale-up",
        async () => {
          if (lanes.length < 16) lanes.push(runLane());
          const { events } = await admin.getScalingHistory({ pageSize: 200 });
          return events.find(
            (e) => e.reason === "PredictiveScaleUp" && e.action.startsWith("start"),
          );
        },
        30_000,
      );
      // Ahead of the reactive rule: the measured utilization had not crossed the threshold yet.
      expect(predictive.signals.slot_utilization ?? 0).toBeLessThanOrEqual(SCALE_UP_THRESHOLD);
      expect(predictive.message).toMatch(
        /demand forecast [\d.]+ slots in [\d.]+ s \((naive|holt|holt-winters)/,
      );
      expect(predictive.desiredWorkers).toBeGreaterThan(
        predictive.readyWorkers + predictive.startingWorkers,
      );
    } finally {
      isLoading = false;
      await Promise.all(lanes);
    }
  });

  it("falls back to reactive scaling when the optimizer cannot be asked, and says so", async () => {
    expect(await mesh.optimizer?.stop()).toBe(0);
    const status = await until(
      "the status to say reactive only",
      async () => {
        const current = await mesh.admin.getScalingStatus({});
        return current.predictive.startsWith("reactive only") ? current : undefined;
      },
      15_000,
    );
    expect(status.predictive).toContain("the optimizer cannot be asked");
    expect(status.autoscalingEnabled).toBe(true);
    // The mesh still takes work.
    const assigned = await mesh.client.assign({
      task: { payload: new TextEncoder().encode(JSON.stringify({ ms: 10 })) },
    });
    const { task } = await mesh.client.awaitTask(
      { taskId: assigned.taskId },
      { timeoutMs: 30_000 },
    );
    expect(task?.output.length).toBeGreaterThan(0);
  });
});
