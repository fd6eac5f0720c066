// Plain text for people: tables, ages, a worker in one line (--output json
// gives the messages as proto JSON for scripts instead).
import { WorkerState, type WorkerStatus } from "../../libs/contracts/index.js";

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

export function ago(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ago`;
  return `${Math.floor(sec / 3600)}h ago`;
}

export function describeWorker(worker: WorkerStatus | undefined): string {
  if (!worker) return "?";
  const state = (WorkerState[worker.state] ?? "?").toLowerCase();
  return `worker ${worker.spec?.workerId} is ${worker.cordoned ? "cordoned, " : ""}${state} with ${worker.inFlight} task(s) in flight`;
}
