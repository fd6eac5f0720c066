// The CLI's --output json, --watch and progress displays, run as the real
// command (dist/) against real meshes: JSON that parses, a watch that redraws
// until Ctrl-C ends it with exit 0 (and says so when the coordinator is
// lost), a drain that shows the tasks still in flight until the worker has
// left, a scale that shows the fleet until it has the workers asked for.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WorkerState } from "../../libs/contracts/index.js";
import { startAutoscalingMesh, type AutoscalingMesh } from "../support/autoscaling-mesh.js";
import { startCli, stopAllClis } from "../support/cli-process.js";
import {
  exampleHandler,
  FAST_FAILURE_ENV,
  startLoneCoordinator,
  startMesh,
  type Mesh,
} from "../support/mesh.js";
import { serviceEntry, stopAll } from "../support/service-process.js";
import { until } from "../support/until.js";

afterEach(() => stopAllClis());

function cliOnce(...args: string[]) {
  return spawnSync(process.execPath, [serviceEntry("cli"), ...args], {
    encoding: "utf8",
    timeout: 20_000,
  });
}

const count = (text: string, what: string): number => text.split(what).length - 1;

describe("bad options", () => {
  const cases: { name: string; args: string[]; message: string }[] = [
    {
      name: "--output yaml",
      args: ["workers", "--output", "yaml"],
      message: "--output must be json or table",
    },
    {
      name: "--interval 0",
      args: ["status", "--watch", "--interval", "0"],
      message: "--interval must be a number of seconds from 0.2 to 3600",
    },
    {
      name: "--interval without --watch",
      args: ["tasks", "--interval", "1"],
      message: "--interval goes with --watch",
    },
    {
      name: "--json with --output table",
      args: ["status", "--json", "--output", "table"],
      message: "--json is short for --output json",
    },
    {
      name: "--watch with a scale target",
      args: ["scale", "3", "--watch"],
      message: "scale: --watch goes with the status or --history",
    },
    {
      name: "--no-wait with --wait-timeout",
      args: ["drain", "worker-1", "--no-wait", "--wait-timeout", "5"],
      message: "--wait-timeout goes with waiting, not with --no-wait",
    },
    {
      name: "--wait on the scaling status",
      args: ["scale", "--wait"],
      message: "scale: --wait, --no-wait and --wait-timeout go with WORKERS",
    },
  ];
  it.each(cases)("$name exits 2 naming the option", ({ args, message }) => {
    // Port 1: nothing listens there, so only the option check can answer.
    const result = cliOnce(...args, "--coordinator", "static://127.0.0.1:1");
    expect(result.status, result.stdout).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe("on a mesh of two workers", () => {
  let mesh: Mesh;
  let releaseDir: string;
  let coordinator: string[];

  beforeAll(async () => {
    releaseDir = mkdtempSync(join(tmpdir(), "scalemesh-cli-watch-"));
    // A task runs until the test creates its release file: in flight exactly as long as the test says.
    mesh = await startMesh({
      workers: 2,
      slots: 2,
      handler: `exec:id=$(cat); while [ ! -e "${releaseDir}/$id" ]; do sleep 0.05; done; echo released`,
    });
    coordinator = ["--coordinator", `static://127.0.0.1:${mesh.coordinator.grpcPort}`];
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await stopAll();
  });

  it("workers --output json is one document that lists every worker", () => {
    const result = cliOnce("workers", "--output", "json", ...coordinator);
    expect(result.status, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as {
      workers: { spec: { workerId: string; slots: number }; state: string; inFlight: number }[];
    };
    expect(document.workers.map((w) => w.spec.workerId)).toEqual(["worker-1", "worker-2"]);
    expect(document.workers[0]).toMatchObject({
      spec: { slots: 2 },
      state: "WORKER_STATE_ALIVE",
      inFlight: 0,
    });
    // --json is the same document.
    expect(JSON.parse(cliOnce("workers", "--json", ...coordinator).stdout)).toMatchObject({
      workers: [{ spec: { workerId: "worker-1" } }, { spec: { workerId: "worker-2" } }],
    });
  });

  it("status --watch --interval 0.5 redraws a block per refresh until Ctrl-C, which exits 0", async () => {
    const watch = startCli(["status", "--watch", "--interval", "0.5", ...coordinator]);
    const header = "scalemesh status every 0.5 s, at ";
    await watch.waitForOutput((output) => count(output, header) >= 2);
    watch.interrupt();
    expect(await watch.exited).toBe(0);
    const blocks = watch.output().split(header).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      expect(block).toContain("workers       2 alive, 0 suspect, 0 draining, 0 dead");
      expect(block).toContain("slots         0/4 busy");
    }
    // Not a terminal: plain text, no escape sequences.
    expect(watch.output()).not.toContain("\u001b");
  });

  it("workers --watch --output json is one JSON object per line", async () => {
    const watch = startCli([
      "workers",
      "--watch",
      "--interval",
      "0.5",
      "--output",
      "json",
      ...coordinator,
    ]);
    await watch.waitForOutput((output) => count(output, "\n") >= 2);
    watch.interrupt();
    expect(await watch.exited).toBe(0);
    const lines = watch.output().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(
        (JSON.parse(line) as { workers: { spec: { workerId: string } }[] }).workers.map(
          (w) => w.spec.workerId,
        ),
      ).toEqual(["worker-1", "worker-2"]);
  });

  it("drain shows on a terminal the tasks still in flight, and ends when the worker has left", async () => {
    // worker-2 cordoned: both tasks go to worker-1, the one drained.
    await mesh.admin.cordonWorker({ workerId: "worker-2" });
    const workerId = "worker-1";
    const assigned = await Promise.all(
      ["drain-a", "drain-b"].map((taskId) =>
        mesh.balancerClient.assign({
          task: { taskId, payload: new TextEncoder().encode(taskId) },
        }),
      ),
    );
    expect(assigned.map((a) => a.workerId)).toEqual([workerId, workerId]);
    const drain = startCli(["drain", workerId, ...coordinator], { isTerminal: true });
    await drain.waitForOutput((output) =>
      output.includes(`draining ${workerId}: 2 task(s) in flight`),
    );
    writeFileSync(join(releaseDir, "drain-a"), "");
    await drain.waitForOutput((output) =>
      output.includes(`draining ${workerId}: 1 task(s) in flight`),
    );
    writeFileSync(join(releaseDir, "drain-b"), "");
    expect(await drain.exited).toBe(0);
    const lines = drain
      .output()
      .split(/\r\n|\r|\n/)
      .map((line) => line.replace(/\u001b\[K/g, ""))
      .filter((line) => line !== "");
    expect(lines[0]).toBe(`worker ${workerId} is draining with 2 task(s) in flight`);
    expect(lines.at(-1)).toBe(`worker ${workerId} has drained and left`);
    const { worker } = await mesh.admin.getWorker({ workerId });
    expect(worker?.state).toBe(WorkerState.DEAD);
    expect(existsSync(join(releaseDir, "drain-b"))).toBe(true);
  });

  it("drain --output json on a pipe prints one document and no progress", async () => {
    const workerId = "worker-2";
    const drain = startCli(["drain", workerId, "--output", "json", ...coordinator]);
    expect(await drain.exited).toBe(0);
    expect(JSON.parse(drain.output())).toMatchObject({
      worker: { spec: { workerId } },
      left: true,
    });
    expect(drain.stderr()).toBe("");
  });
});

describe("when the coordinator goes away", () => {
  it("status --watch says so in the next refreshes, keeps trying, and Ctrl-C still exits 0", async () => {
    const lone = await startLoneCoordinator();
    try {
      const uri = `static://127.0.0.1:${lone.grpcPort}`;
      const watch = startCli(["status", "--watch", "--interval", "0.5", "--coordinator", uri]);
      await watch.waitForOutput((output) => output.includes("workers       0 alive"));
      await lone.stop();
      const lost = `lost the coordinator at ${uri}: `;
      await watch.waitForOutput((output) => count(output, lost) >= 2);
      watch.interrupt();
      expect(await watch.exited).toBe(0);
      const lastBlock = watch.output().split("scalemesh status every 0.5 s, at ").at(-1) ?? "";
      expect(lastBlock).toMatch(
        /lost the coordinator at .*\(UNAVAILABLE\); trying again every 0\.5 s/,
      );
      expect(lastBlock).toContain("the last reading, from ");
      expect(lastBlock).toContain("workers       0 alive");
    } finally {
      await lone.stop();
    }
  });
});

describe("scale to N with the local provider", () => {
  let mesh: AutoscalingMesh;
  let coordinator: string[];

  beforeAll(async () => {
    mesh = await startAutoscalingMesh({
      ...FAST_FAILURE_ENV,
      SCALEMESH_SCALING_MIN_WORKERS: "1",
      SCALEMESH_SCALING_MAX_WORKERS: "4",
      SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "0.5",
      SCALEMESH_AUTOSCALER_LOCAL_SLOTS: "1",
      SCALEMESH_AUTOSCALER_LOCAL_HANDLER: exampleHandler("echo"),
      SCALEMESH_AUTOSCALER_WORKER_START_TIMEOUT_SEC: "30",
    });
    coordinator = ["--coordinator", `static://127.0.0.1:${mesh.coordinator.grpcPort}`];
    await until(
      "the first worker",
      async () => ((await mesh.admin.getScalingStatus({})).currentWorkers === 1 ? true : undefined),
      30_000,
    );
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await stopAll();
  });

  it("shows on a terminal the workers ready, starting and desired until it has 3", async () => {
    const scale = startCli(["scale", "3", ...coordinator], { isTerminal: true });
    expect(await scale.exited).toBe(0);
    const output = scale.output();
    expect(output).toMatch(/scaling to 3: \d ready \+ \d starting, desired 3/);
    expect(output).toContain("reached 3 ready worker(s)");
    expect(output).toMatch(
      /autoscaling {3}off \(provider local, mode manual\), 3 ready \+ 0 starting, desired 3/,
    );
    const { workers } = await mesh.admin.listWorkers({});
    expect(workers.filter((w) => w.state === WorkerState.ALIVE)).toHaveLength(3);
  });

  it("scales back down to 2 with --output json: one document, no progress on a pipe", async () => {
    const scale = startCli(["scale", "2", "--output", "json", ...coordinator]);
    expect(await scale.exited).toBe(0);
    expect(JSON.parse(scale.output())).toMatchObject({
      autoscalingEnabled: false,
      mode: "manual",
      currentWorkers: 2,
      startingWorkers: 0,
      desiredWorkers: 2,
    });
    expect(scale.stderr()).toBe("");
  });

  it("scale --no-wait answers at once with the new target", () => {
    const result = cliOnce("scale", "4", "--no-wait", ...coordinator);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/mode manual\), \d ready \+ \d starting, desired 4/);
    expect(result.stdout).not.toContain("reached");
  });
});
