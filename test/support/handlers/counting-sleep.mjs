// The sleep handler (examples/handlers/sleep.mjs: payload {"ms": N}) that also
// counts its executions, for fault tests: one JSON line per event in
// $SCALEMESH_FAULT_EXEC_DIR/<worker id>.<pid>.log ("start" when an attempt
// begins, "ok" when it returns its output, "aborted" when its signal stops
// it). appendFileSync puts each line in the kernel before the handler goes on,
// so a SIGKILL loses no line that was written. Without the variable it only sleeps.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const dir = process.env.SCALEMESH_FAULT_EXEC_DIR;
const idAt = process.argv.indexOf("--worker-id");
const workerId = idAt >= 0 ? process.argv[idAt + 1] : `pid-${process.pid}`;
const file = dir ? join(dir, `${workerId}.${process.pid}.log`) : undefined;

function record(event, task) {
  if (!file) return;
  appendFileSync(
    file,
    `${JSON.stringify({ event, taskId: task.taskId, attempt: task.attempt, workerId, pid: process.pid, atMs: Date.now() })}\n`,
  );
}

/** @param {{ taskId: string, attempt: number, payload: Uint8Array, signal: AbortSignal }} task */
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
  record("start", task);
  try {
    await sleep(ms, undefined, { signal: task.signal });
  } catch (error) {
    record("aborted", task);
    throw error;
  }
  record("ok", task);
  return `slept ${ms} ms`;
}
