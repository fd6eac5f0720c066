// What a process has used, read from /proc: CPU seconds so far, RSS now,
// and both over a window.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const CLOCK_TICKS_PER_SEC = 100;

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
}

export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
}

export interface Usage {
  /** CPU seconds per second of the window: 1 is one busy core. */
  readonly cpuShare: number;
  readonly rssMb: number;
}

export async function usageOver(pid: number, seconds: number): Promise<Usage> {
  const startCpu = cpuSeconds(pid);
  const startMs = Date.now();
  await sleep(seconds * 1000);
  return {
    cpuShare: (cpuSeconds(pid) - startCpu) / ((Date.now() - startMs) / 1000),
    rssMb: rssMb(pid),
  };
}
