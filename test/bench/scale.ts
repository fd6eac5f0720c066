// Many workers on one coordinator: simulated worker agents (scale-driver.ts,
// a connection each) spread over a few driver processes, at the default
// heartbeat. For each count: how long until all are registered, how many are
// falsely declared dead while they heartbeat (the largest fleet watched
// SCALEMESH_BENCH_SCALE_WATCH_SECONDS, 300 by default), how long until a SIGKILLed
// driver's workers are declared dead, and the coordinator's CPU and RSS,
// against a bare grpc-js server receiving the same heartbeats (bare-echo.ts
// --heartbeats) measured the same way in the same run.
import { setTimeout as sleep } from "node:timers/promises";
import { Admin } from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { waitUntil } from "../support/fault-cluster.js";
import { freshLedgerPath } from "../support/mesh.js";
import { startService, type ServiceProcess } from "../support/service-process.js";
import { startDriverProcesses, type BenchProcess } from "./bench-process.js";
import { usageOver, type Usage } from "./proc-usage.js";

type Say = (text: string) => void;
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

const DRIVERS = 4;
function startDrivers(address: string, workers: number, isBare: boolean): BenchProcess[] {
  const extraArgs = isBare ? ["--bare"] : [];
  return startDriverProcesses("scale-driver.js", { address, workers, drivers: DRIVERS, extraArgs });
}

interface ScaleRow {
  readonly workers: number;
  readonly joinSec: number;
  readonly falseDeaths: number;
  readonly watchedSec: number;
  readonly deadAfterKillSec: number | undefined;
  readonly usage: Usage;
  readonly bareJoinSec: number;
  readonly bareUsage: Usage;
}

async function coordinatorRun(
  workers: number,
  observeSec: number,
  watchSec: number,
  profileDir?: string,
) {
  const coordinator: ServiceProcess = await startService("coordinator", {
    env: {
      // SCALEMESH_BENCH_PROFILE_DIR: the coordinator writes a CPU profile there.
      ...(profileDir ? { CPU_PROFILE_DIR: profileDir } : {}),
      SCALEMESH_LEDGER_PATH: freshLedgerPath(),
      SCALEMESH_COORDINATOR_GRPC_PORT: "0",
      SCALEMESH_COORDINATOR_HTTP_PORT: "0",
      SCALEMESH_COORDINATOR_OPTIMIZER: "",
    },
  });
  const admin = createRpcClient(Admin, `127.0.0.1:${coordinator.grpcPort}`, {
    defaultDeadlineMs: 30_000,
  });
  const alive = async (): Promise<number> =>
    (await admin.getClusterStatus({}).catch(() => undefined))?.workersAlive ?? -1;
  const drivers = startDrivers(`127.0.0.1:${coordinator.grpcPort}`, workers, false);
  try {
    const startedMs = Date.now();
    await waitUntil(
      `${workers} workers registered`,
      600_000,
      async () => (await alive()) >= workers,
    );
    const joinSec = (Date.now() - startedMs) / 1000;
    progress(
      `scale: ${workers} workers registered in ${joinSec.toFixed(1)} s; watching ${observeSec} s...`,
    );
    const deadBefore = coordinator.logs.filter((l) => l.msg === "worker declared dead").length;
    const usage = await usageOver(coordinator.child.pid ?? 0, observeSec);
    if (watchSec > observeSec) {
      progress(`scale: watching ${watchSec - observeSec} s more for false deaths...`);
      await sleep((watchSec - observeSec) * 1000);
    }
    const falseDeaths =
      coordinator.logs.filter((l) => l.msg === "worker declared dead").length - deadBefore;
    // SIGKILL one driver: its workers' connections drop at once.
    const killed = Math.floor(workers / DRIVERS) + (workers % DRIVERS > 0 ? 1 : 0);
    const killedAtMs = Date.now();
    drivers[0]?.child.kill("SIGKILL");
    let deadAfterKillSec: number | undefined;
    // Declared dead, as the coordinator logs it (not only SUSPECT, which a lost stream makes at once).
    const deadOfKilled = (): number =>
      coordinator.logs.filter(
        (l) => l.msg === "worker declared dead" && String(l.workerId).startsWith("d1-"),
      ).length;
    await waitUntil("the killed driver's workers declared dead", 60_000, async () => {
      return deadOfKilled() >= killed;
    }).then(
      () => (deadAfterKillSec = (Date.now() - killedAtMs) / 1000),
      () => undefined,
    );
    return { joinSec, falseDeaths, deadAfterKillSec, usage };
  } finally {
    admin.close();
    await Promise.all(drivers.map((d) => d.stop(5_000)));
    await coordinator.stop();
  }
}

async function bareRun(workers: number, observeSec: number) {
  const bare = await startService("bench-bare", {
    args: ["--heartbeats"],
    readyMessage: "bare listening",
  });
  const drivers = startDrivers(`127.0.0.1:${bare.grpcPort}`, workers, true);
  try {
    const startedMs = Date.now();
    await Promise.all(drivers.map((d) => d.waitForLine((l) => l.msg === "driver joined", 600_000)));
    // Connected once every session's heartbeats arrive: a second's worth of them.
    const received = (): number =>
      Number(bare.logs.findLast((l) => l.msg === "received")?.received ?? 0);
    let last = received();
    await waitUntil("every bare session heartbeating", 120_000, async () => {
      const now = received();
      const isAll = now - last >= workers * 0.95;
      last = now;
      await sleep(750);
      return isAll;
    });
    const joinSec = (Date.now() - startedMs) / 1000;
    return { joinSec, usage: await usageOver(bare.child.pid ?? 0, observeSec) };
  } finally {
    await Promise.all(drivers.map((d) => d.stop(5_000)));
    await bare.stop();
  }
}

export async function benchScale(
  say: Say,
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const counts = (env.SCALEMESH_BENCH_SCALE_WORKERS ?? "1000,5000,10000").split(",").map(Number);
  const observeSec = Number(env.SCALEMESH_BENCH_SCALE_SECONDS ?? 60);
  // The largest fleet is watched this long for false deaths (CPU and RSS stay over observeSec).
  const watchSec = Math.max(observeSec, Number(env.SCALEMESH_BENCH_SCALE_WATCH_SECONDS ?? 300));
  const largest = Math.max(...counts);
  const rows: ScaleRow[] = [];
  for (const workers of counts) {
    progress(
      `scale: ${workers} simulated workers from ${DRIVERS} driver processes against a coordinator...`,
    );
    const watched = workers === largest ? watchSec : observeSec;
    const run = await coordinatorRun(workers, observeSec, watched, env.SCALEMESH_BENCH_PROFILE_DIR);
    progress(`scale: the same heartbeats against a bare grpc-js server...`);
    const bare = await bareRun(workers, observeSec);
    rows.push({
      workers,
      ...run,
      watchedSec: watched,
      bareJoinSec: bare.joinSec,
      bareUsage: bare.usage,
    });
  }
  say(
    "scale: simulated worker agents, a connection each, default heartbeat (1 s), one coordinator",
  );
  say(
    `  ${DRIVERS} driver processes; CPU and RSS over ${observeSec} s once all are registered, false deaths over the time watched; bare = a grpc-js server that only receives the same heartbeats`,
  );
  const cell = (text: string, width: number): string => text.padStart(width);
  say(
    [
      cell("workers", 8),
      cell("join s", 8),
      cell("bare", 6),
      cell("false deaths", 13),
      cell("watched s", 10),
      cell("dead after kill s", 18),
      cell("CPU", 6),
      cell("bare", 6),
      cell("ratio", 6),
      cell("RSS MB", 7),
      cell("bare", 6),
      cell("ratio", 6),
    ].join(" "),
  );
  for (const r of rows)
    say(
      [
        cell(String(r.workers), 8),
        cell(r.joinSec.toFixed(1), 8),
        cell(r.bareJoinSec.toFixed(1), 6),
        cell(String(r.falseDeaths), 13),
        cell(String(r.watchedSec), 10),
        cell(r.deadAfterKillSec === undefined ? "> 60" : r.deadAfterKillSec.toFixed(1), 18),
        cell(`${(r.usage.cpuShare * 100).toFixed(0)}%`, 6),
        cell(`${(r.bareUsage.cpuShare * 100).toFixed(0)}%`, 6),
        cell(`${(r.usage.cpuShare / Math.max(0.001, r.bareUsage.cpuShare)).toFixed(2)}x`, 6),
        cell(r.usage.rssMb.toFixed(0), 7),
        cell(r.bareUsage.rssMb.toFixed(0), 6),
        cell(`${(r.usage.rssMb / r.bareUsage.rssMb).toFixed(2)}x`, 6),
      ].join(" "),
    );
  say(
    "  CPU = share of one core; goals: no false deaths, a killed driver's workers dead within 3 s, CPU <= bare, RSS < 1 GiB",
  );
}
