// Bench handler: sleeps the payload's {"ms": N} divided by this worker's speed
// (BENCH_WORKER_SPEED, 1 = slowest), so one mesh has workers 1x..4x fast.
import { setTimeout as sleep } from "node:timers/promises";

const speed = Number(process.env.BENCH_WORKER_SPEED ?? 1) || 1;

/** @param {{ payload: Uint8Array, signal: AbortSignal }} task */
export default async function handle(task) {
  const { ms } = JSON.parse(new TextDecoder().decode(task.payload));
  await sleep(ms / speed, undefined, { signal: task.signal });
  return "";
}
