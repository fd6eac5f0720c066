// The simulator's claim checked against the real loop: one trace, a 5× step
// compressed in time, replayed on a real mesh (the local provider starts real
// worker agents) and through the simulator with the same figures (slots,
// task length, the worker start time the real run measured, the
// coordinator's defaults). Both runs report the time from the step to enough
// ready workers, the seconds the queue wait broke the SLO and the
// worker-seconds of ready workers. Arrivals are open-loop and evenly spaced;
// every wait is bounded; progress goes to stderr.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkerState } from "../../libs/contracts/index.js";
import { startAutoscalingMesh } from "../support/autoscaling-mesh.js";
import { exampleHandler } from "../support/mesh.js";
import { pollUntil } from "./poll-until.js";
import { runFleet, type FleetModel } from "./fleet-sim.js";
import { benchConfig, createScalemeshController } from "./predictive-sim.js";
import type { Trace } from "./scaling-traces.js";

type Say = (text: string) => void;
const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

const TASK_MS = 500;
const SLOTS = 2;
const BEFORE_RATE = 2;
const AFTER_RATE = 10;
const STEP_AT_SEC = 20;
const DURATION_SEC = 60;
const RUNS = 3;
const MAX_WORKERS = 8;
/** Queue wait above this breaks the SLO: two task lengths, as the simulator's 2 s for 2 s tasks … scaled down. */
const SLO_WAIT_SEC = 1;
const POLL_MS = 100;

interface RunFigures {
  readonly timeToEnoughSec: number;
  readonly sloViolationSec: number;
  readonly readyWorkerSec: number;
  readonly peakWorkers: number;
}

async function realRun(): Promise<RunFigures & { startSec: number }> {
  const mesh = await startAutoscalingMesh({
    SCALEMESH_SCALING_MIN_WORKERS: "1",
    SCALEMESH_SCALING_MAX_WORKERS: String(MAX_WORKERS),
    SCALEMESH_AUTOSCALER_LOCAL_SLOTS: String(SLOTS),
    SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("sleep"),
  });
  const { admin, client } = mesh;
  const waits: { arrivedSec: number; waitSec: number }[] = [];
  const readyBySample: { atSec: number; ready: number }[] = [];
  try {
    await pollUntil(async () =>
      (await admin.listWorkers({})).workers.some((w) => w.state === WorkerState.ALIVE)
        ? true
        : undefined,
    );
    const startedMs = Date.now();
    const elapsedSec = (): number => (Date.now() - startedMs) / 1000;
    let isSampling = true;
    const sampler = (async () => {
      while (isSampling) {
        const { workers } = await admin.listWorkers({});
        readyBySample.push({
          atSec: elapsedSec(),
          ready: workers.filter((w) => w.state === WorkerState.ALIVE).length,
        });
        await sleep(POLL_MS);
      }
    })();
    const inFlight: Promise<void>[] = [];
    for (let t = 0; t < DURATION_SEC;) {
      const ratePerSec = t < STEP_AT_SEC ? BEFORE_RATE : AFTER_RATE;
      const dueMs = startedMs + t * 1000;
      if (dueMs > Date.now()) await sleep(dueMs - Date.now());
      const arrivedSec = t;
      inFlight.push(
        (async () => {
          const assigned = await client.assign({
            task: { payload: new TextEncoder().encode(JSON.stringify({ ms: TASK_MS })) },
          });
          const done = await client.awaitTask({ taskId: assigned.taskId }, { timeoutMs: 60_000 });
          const task = done.task;
          if (task?.createdAt && task.finishedAt)
            waits.push({
              arrivedSec,
              waitSec:
                (timestampMs(task.finishedAt) - timestampMs(task.createdAt) - TASK_MS) / 1000,
            });
        })(),
      );
      t += 1 / ratePerSec;
    }
    await Promise.all(inFlight);
    isSampling = false;
    await sampler;
    const { events } = await admin.getScalingHistory({ pageSize: 1000 });
    const { workers } = await admin.listWorkers({});
    return {
      ...figuresOfRealRun(waits, readyBySample),
      startSec: measuredStartSec(events, workers, startedMs),
    };
  } finally {
    await mesh.stop();
  }
}

/** From the first scale-up after the step to the first worker registered after it: the worker start the loop sees. */
function measuredStartSec(
  events: readonly { at?: Parameters<typeof timestampMs>[0]; action: string }[],
  workers: readonly { registeredAt?: Parameters<typeof timestampMs>[0] }[],
  startedMs: number,
): number {
  const stepMs = startedMs + STEP_AT_SEC * 1000;
  const decisionMs = events
    .filter((e) => e.action.startsWith("start") && e.at && timestampMs(e.at) >= stepMs)
    .map((e) => timestampMs(e.at as Parameters<typeof timestampMs>[0]))
    .sort((a, b) => a - b)[0];
  const registeredMs = workers
    .map((w) => (w.registeredAt ? timestampMs(w.registeredAt) : Number.NaN))
    .filter((ms) => decisionMs !== undefined && ms >= decisionMs)
    .sort((a, b) => a - b)[0];
  return decisionMs !== undefined && registeredMs !== undefined
    ? (registeredMs - decisionMs) / 1000
    : Number.NaN;
}

function figuresOfRealRun(
  waits: readonly { arrivedSec: number; waitSec: number }[],
  ready: readonly { atSec: number; ready: number }[],
): RunFigures {
  // A second breaks the SLO when a task arriving in it waited longer than SLO_WAIT_SEC.
  const brokenSeconds = new Set(
    waits.filter((w) => w.waitSec > SLO_WAIT_SEC).map((w) => Math.floor(w.arrivedSec)),
  );
  const needed = Math.ceil((AFTER_RATE * TASK_MS) / 1000 / SLOTS);
  const enough = ready.find((s) => s.atSec >= STEP_AT_SEC && s.ready >= needed);
  let readyWorkerSec = 0;
  for (let i = 1; i < ready.length; i += 1) {
    const a = ready[i - 1] as { atSec: number; ready: number };
    const b = ready[i] as { atSec: number; ready: number };
    if (a.atSec < DURATION_SEC)
      readyWorkerSec += a.ready * (Math.min(b.atSec, DURATION_SEC) - a.atSec);
  }
  return {
    timeToEnoughSec: enough ? enough.atSec - STEP_AT_SEC : Infinity,
    sloViolationSec: brokenSeconds.size,
    readyWorkerSec,
    peakWorkers: Math.max(0, ...ready.map((s) => s.ready)),
  };
}

/** The same trace through the simulator, with the start time the real run measured. */
function simulatedRun(startSec: number): RunFigures {
  const tickSec = 0.1;
  const count = Math.round(DURATION_SEC / tickSec);
  const trace: Trace = {
    name: "step",
    tickSec,
    ratesPerSec: Array.from({ length: count }, (_, i) =>
      i * tickSec < STEP_AT_SEC ? BEFORE_RATE : AFTER_RATE,
    ),
    measureFromSec: 0,
    rise: { atSec: STEP_AT_SEC, ratePerSec: AFTER_RATE },
    description: "compressed 5× step",
  };
  const model: FleetModel = {
    slotsPerWorker: SLOTS,
    taskSec: TASK_MS / 1000,
    workerStartSec: startSec,
    sloWaitSec: SLO_WAIT_SEC,
  };
  const config = benchConfig();
  const bounded = { ...config, scaling: { ...config.scaling, max_workers: MAX_WORKERS } };
  const outcome = runFleet({
    trace,
    model,
    initialWorkers: 1,
    controller: createScalemeshController({ trace, policy: "reactive", model, config: bounded }),
  });
  return {
    timeToEnoughSec: outcome.timeToEnoughSec ?? Infinity,
    sloViolationSec: outcome.sloViolationMin * 60,
    readyWorkerSec: outcome.readyWorkerHours * 3600,
    peakWorkers: outcome.peakReadyWorkers,
  };
}

export async function benchTraceOnProcesses(say: Say): Promise<void> {
  const rows: {
    run: number;
    startSec: number;
    real: RunFigures;
    simulated: RunFigures;
  }[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    progress(
      `a ${AFTER_RATE / BEFORE_RATE}× step on real processes, run ${run} of ${RUNS}: ${BEFORE_RATE}/s then ${AFTER_RATE}/s of ${TASK_MS} ms tasks for ${DURATION_SEC} s`,
    );
    const real = await realRun();
    rows.push({
      run,
      startSec: real.startSec,
      real,
      simulated: simulatedRun(real.startSec),
    });
  }
  say(
    `A compressed 5× step on real processes (local provider, scalemesh reactive, coordinator defaults; ${SLOTS} slots a worker, ${TASK_MS} ms tasks, ${BEFORE_RATE}/s then ${AFTER_RATE}/s from ${STEP_AT_SEC} s for ${DURATION_SEC} s; SLO: queue wait ≤ ${SLO_WAIT_SEC} s), each run against the simulator given the worker start that run measured`,
  );
  say("");
  say(
    "| run | worker start measured | | time to enough workers after the step | seconds breaking the SLO | ready worker-seconds | peak ready workers |",
  );
  say("|---|---|---|---|---|---|---|");
  for (const row of rows)
    for (const [name, f] of [
      ["real processes", row.real],
      ["simulator", row.simulated],
    ] as const)
      say(
        `| ${row.run} | ${row.startSec.toFixed(2)} s | ${name} | ${Number.isFinite(f.timeToEnoughSec) ? `${f.timeToEnoughSec.toFixed(1)} s` : "never"} | ${f.sloViolationSec.toFixed(0)} | ${f.readyWorkerSec.toFixed(0)} | ${f.peakWorkers} |`,
      );
}
