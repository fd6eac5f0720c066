// Sleeps for the payload's {"ms": N} milliseconds, then returns "slept N ms".
// Stops early when the task's signal aborts (timeout or worker stopping).
import { setTimeout as sleep } from "node:timers/promises";

/** @param {{ payload: Uint8Array, signal: AbortSignal }} task */
export default async function handle(task) {
  const text = new TextDecoder().decode(task.payload);
  let ms;
  try {
    ms = JSON.parse(text).ms;
  } catch {
    throw new Error(
      `payload must be JSON like {"ms": 100}, got ${JSON.stringify(text.slice(0, 100))}`,
    );
  }
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`"ms" must be a number >= 0, got ${JSON.stringify(ms)}`);
  await sleep(ms, undefined, { signal: task.signal });
  return `slept ${ms} ms`;
}
