// Echoes the task's payload, upper-cased when it is UTF-8 text (the README demo):
//   scalemesh-worker-agent --handler module:examples/handlers/echo.mjs
const decoder = new TextDecoder("utf-8", { fatal: true });

/** @param {{ taskId: string, attempt: number, payload: Uint8Array, signal: AbortSignal }} task */
export default async function handle(task) {
  try {
    return decoder.decode(task.payload).toUpperCase();
  } catch {
    return task.payload; // not text: send the bytes back as they came
  }
}
