// How fast the autoscaler answers a load step with the local provider: from
// the moment 16 lanes of 500 ms tasks hit a 1-worker mesh (2 slots) to the
// scale-up decision, to the new worker registered, to that worker running a
// task. The baseline, in the same run, is a worker agent started by hand
// against the same coordinator: spawn to registered. The ratio says what
// detection and the provider add to a worker's own start time. Every wait
// is bounded; progress goes to stderr.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WorkerState } from "../../libs/contracts/index.js";
import { startAutoscalingMesh } from "../support/autoscaling-mesh.js";
import { pollUntil } from "./poll-until.js";
import { exampleHandler, startLoneCoordinator } from "../support/mesh.js";
import { serviceEntry } from "../support/service-process.js";

type Say = (text: string) => void;
const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

const LANES = 16;
const TASK_MS = 500;

interface Reaction {
  readonly syncSec: number;
  readonly decisionMs: number;
  readonly registeredMs: number;
  readonly takingTasksMs: number;
}

async function oneStep(syncSec: number): Promise<Reaction> {
  const mesh = await startAutoscalingMesh({
    SCALEMESH_SCALING_MIN_WORKERS: "1",
    SCALEMESH_SCALING_MAX_WORKERS: "4",
    SCALEMESH_SCALING_SYNC_INTERVAL_SEC: String(syncSec),
    SCALEMESH_AUTOSCALER_LOCAL_SLOTS: "2",
    SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("sleep"),
  });
  const { admin, client } = mesh;
  let isLoading = true;
  try {
    const first = await pollUntil(
      async () =>
        (await admin.listWorkers({})).workers.find((w) => w.state === WorkerState.ALIVE)?.spec
          ?.workerId,
    );
    const stepAtMs = Date.now();
    const lanes = Array.from({ length: LANES }, async () => {
      while (isLoading) {
        const assigned = await client.assign({
          task: { payload: new TextEncoder().encode(JSON.stringify({ ms: TASK_MS })) },
        });
        await client.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 60_000 });
      }
    });
    const newcomer = await pollUntil(
      async () =>
        (await admin.listWorkers({})).workers.find(
          (w) => w.spec?.workerId !== first && w.inFlight > 0,
        ),
      { intervalMs: 20 },
    );
    const takingTasksMs = Date.now() - stepAtMs;
    isLoading = false;
    await Promise.all(lanes);
    const { events } = await admin.getScalingHistory({ pageSize: 1000 });
    const decision = events
      .filter((e) => e.action.startsWith("start") && e.at && timestampMs(e.at) >= stepAtMs)
      .at(-1);
    return {
      syncSec,
      decisionMs: decision?.at ? timestampMs(decision.at) - stepAtMs : Number.NaN,
      registeredMs: newcomer.registeredAt
        ? timestampMs(newcomer.registeredAt) - stepAtMs
        : Number.NaN,
      takingTasksMs,
    };
  } finally {
    isLoading = false;
    await mesh.stop();
  }
}

/** The baseline: a worker agent started by hand, spawn to "worker registered". */
async function bareWorkerStartMs(): Promise<number[]> {
  const coordinator = await startLoneCoordinator();
  const times: number[] = [];
  try {
    for (let i = 0; i < 3; i += 1) {
      const startedAt = Date.now();
      const child = spawn(
        process.execPath,
        [
          serviceEntry("worker-agent"),
          "--coordinator",
          `static://127.0.0.1:${coordinator.grpcPort}`,
          "--worker-id",
          `bare-${i}`,
          "--http-port",
          "0",
          "--handler",
          exampleHandler("sleep"),
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("a bare worker did not register within 30 s")),
          30_000,
        );
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
          if (line.includes('"msg":"worker registered"')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      times.push(Date.now() - startedAt);
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  } finally {
    await coordinator.stop();
  }
  return times;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export async function benchScaleReaction(say: Say): Promise<void> {
  progress("baseline: a worker agent started by hand, spawn to registered (3 times)");
  const bare = await bareWorkerStartMs();
  const reactions: Reaction[] = [];
  for (const [syncSec, runs] of [
    [1, 3],
    [15, 2],
  ] as const) {
    for (let i = 1; i <= runs; i += 1) {
      progress(`load step with sync_interval_sec ${syncSec}, run ${i} of ${runs}`);
      reactions.push(await oneStep(syncSec));
    }
  }
  const bareMs = median(bare);
  say(
    `Autoscaler reaction to a load step (local provider; 1 worker of 2 slots, then ${LANES} lanes of ${TASK_MS} ms tasks; max_workers 4)`,
  );
  say(
    `Baseline, a worker agent started by hand until registered: ${bare.map((ms) => `${ms} ms`).join(", ")} (median ${bareMs} ms)`,
  );
  say("");
  say(
    "| sync_interval_sec | run | step → scale-up decision | → new worker registered | → new worker running a task | taking tasks / bare start |",
  );
  say("|---|---|---|---|---|---|");
  reactions.forEach((r, i) => {
    const run = reactions.slice(0, i + 1).filter((x) => x.syncSec === r.syncSec).length;
    say(
      `| ${r.syncSec} | ${run} | ${r.decisionMs} ms | ${r.registeredMs} ms | ${r.takingTasksMs} ms | ${(r.takingTasksMs / bareMs).toFixed(2)}x |`,
    );
  });
}
