// Cost that grows with the work, not the fleet: the same paced Assign load
// (h2load --rps through the balancer) on a fleet of N real worker agents and
// then of 2N, each on a fresh mesh. For each: the coordinator's and the
// balancer's CPU while idle and per Assign under load. Doubling the fleet
// should raise CPU per Assign by at most 10 %.
import { Admin } from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { startMesh } from "../support/mesh.js";
import { assignRequestFrame } from "./assign-mesh.js";
import { startDriverProcesses } from "./bench-process.js";
import { runH2load } from "./h2load.js";
import { cpuSeconds, usageOver } from "./proc-usage.js";

type Say = (text: string) => void;
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

const DRIVERS = 2;
const IDLE_SEC = 10;
const WARM_UP_SEC = 2;

export interface FleetCostOptions {
  /** Fleet sizes; each is compared with the first. */
  readonly counts: readonly number[];
  readonly ratePerSec: number;
  readonly seconds: number;
  /** SCALEMESH_BENCH_PROFILE_DIR: the coordinator and the balancer write CPU profiles there. */
  readonly profileDir?: string;
}

export function fleetCostOptionsFromEnv(env: Record<string, string | undefined>): FleetCostOptions {
  const counts = (env.SCALEMESH_BENCH_FLEET_WORKERS ?? "500,1000")
    .split(",")
    .map((n) => Number(n.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return {
    counts: counts.length > 0 ? counts : [500, 1000],
    ratePerSec: Number(env.SCALEMESH_BENCH_FLEET_RATE ?? 400),
    seconds: Number(env.SCALEMESH_BENCH_FLEET_SECONDS ?? 20),
    profileDir: env.SCALEMESH_BENCH_PROFILE_DIR,
  };
}

interface FleetRow {
  readonly workers: number;
  readonly idleCpuShare: number;
  readonly served: number;
  readonly cpuMsPerAssign: number;
  readonly p99Ms: number;
}

async function fleetRun(workers: number, options: FleetCostOptions): Promise<FleetRow> {
  const mesh = await startMesh({
    workers: 0,
    env: {
      SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "1000000",
      ...(options.profileDir ? { CPU_PROFILE_DIR: `${options.profileDir}/${workers}` } : {}),
    },
  });
  const address = `127.0.0.1:${mesh.coordinator.grpcPort}`;
  const drivers = startDriverProcesses("fleet-driver.js", { address, workers, drivers: DRIVERS });
  const admin = createRpcClient(Admin, address, { defaultDeadlineMs: 30_000 });
  try {
    await Promise.all(drivers.map((d) => d.waitForLine((l) => l.msg === "fleet joined", 600_000)));
    await mesh.waitForWorkers(workers, 60_000);
    const pids = [mesh.coordinator.child.pid ?? 0, mesh.balancer.child.pid ?? 0];
    progress(`fleet: ${workers} workers registered; idle for ${IDLE_SEC} s...`);
    const idle = await Promise.all(pids.map((pid) => usageOver(pid, IDLE_SEC)));
    const succeeded = async (): Promise<number> =>
      Number((await admin.getClusterStatus({})).tasksByState.SUCCEEDED ?? 0n);
    progress(`fleet: ${options.ratePerSec} Assign/s for ${options.seconds} s...`);
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const doneBefore = await succeeded();
    const load = await runH2load({
      url: `http://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
      body: assignRequestFrame(),
      inFlight: 16,
      durationSec: options.seconds,
      warmUpSec: WARM_UP_SEC,
      ratePerSec: options.ratePerSec,
    });
    const cpu = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpuBefore;
    const served = (await succeeded()) - doneBefore;
    return {
      workers,
      idleCpuShare: idle.reduce((sum, u) => sum + u.cpuShare, 0),
      served,
      cpuMsPerAssign: served > 0 ? (cpu * 1000) / served : Number.NaN,
      p99Ms: load.p99Ms,
    };
  } finally {
    admin.close();
    await Promise.all(drivers.map((d) => d.stop(10_000)));
    await mesh.stop();
  }
}

export async function benchFleetCost(say: Say, options: FleetCostOptions): Promise<void> {
  const rows: FleetRow[] = [];
  for (const workers of options.counts) rows.push(await fleetRun(workers, options));
  say(
    `fleet cost: ${options.ratePerSec} Assign/s for ${options.seconds} s through the balancer, on N real worker agents (no-op, 4 slots, ${DRIVERS} processes), a fresh mesh each`,
  );
  const cell = (text: string, width: number): string => text.padStart(width);
  say(
    [
      cell("workers", 8),
      cell("idle CPU", 9),
      cell("tasks done", 11),
      cell("CPU ms/Assign", 14),
      cell("vs first", 9),
      cell("p99 ms", 8),
    ].join(" "),
  );
  const first = rows[0];
  for (const r of rows)
    say(
      [
        cell(String(r.workers), 8),
        cell(`${(r.idleCpuShare * 100).toFixed(0)}%`, 9),
        cell(String(r.served), 11),
        cell(r.cpuMsPerAssign.toFixed(3), 14),
        cell(first ? `${(r.cpuMsPerAssign / first.cpuMsPerAssign).toFixed(2)}x` : "", 9),
        cell(r.p99Ms.toFixed(1), 8),
      ].join(" "),
    );
  say(
    "  CPU = coordinator + balancer (idle: share of one core); goal: doubling the workers raises CPU per Assign by <= 10 % (<= 1.10x)",
  );
}
