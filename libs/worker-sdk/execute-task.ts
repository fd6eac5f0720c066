// Runs one handler call with a time limit: the only place where a task's
// timeout, abort and output conversion are decided. No slots, no network:
// the task runner adds those.
import { TaskCancelledError, type TaskHandler, type TaskOutcome, type WorkerTask } from "./task.js";

export interface ExecuteTaskOptions {
  readonly handler: TaskHandler;
  readonly task: Omit<WorkerTask, "signal">;
  readonly timeoutMs: number;
  /**
   * Aborts the task from outside: with a TaskCancelledError reason it is the
   * coordinator's cancellation (outcome cancelled), with any other the worker
   * stopping (outcome failed).
   */
  readonly signal?: AbortSignal;
  /** Outputs larger than this fail the task instead of breaking the session. */
  readonly maxOutputBytes?: number;
  readonly now?: () => number;
}

/** Error messages are cut to this many characters so one result stays small. */
export const MAX_ERROR_CHARS = 4096;

type Settled =
  | { readonly kind: "settled"; readonly ok: true; readonly output: unknown }
  | { readonly kind: "settled"; readonly ok: false; readonly error: unknown };

export async function executeTask(options: ExecuteTaskOptions): Promise<TaskOutcome> {
  const now = options.now ?? (() => performance.now());
  const startedMs = now();
  const elapsedMs = (): number => now() - startedMs;
  const controller = new AbortController();
  const outer = options.signal;
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const timedOut = new Promise<{ kind: "timed_out" }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timed_out" }), Math.max(0, options.timeoutMs));
  });
  const aborted = new Promise<{ kind: "aborted"; reason: unknown }>((resolve) => {
    if (!outer) return;
    onOuterAbort = () => resolve({ kind: "aborted", reason: outer.reason });
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener("abort", onOuterAbort, { once: true });
  });
  const settled = callHandler(options.handler, { ...options.task, signal: controller.signal });
  try {
    const first = await Promise.race([settled, timedOut, aborted]);
    switch (first.kind) {
      case "timed_out": {
        const error = `timed out after ${formatSeconds(options.timeoutMs)} s`;
        controller.abort(new Error(error));
        return { kind: "timed_out", error, durationMs: elapsedMs() };
      }
      case "aborted": {
        controller.abort(first.reason);
        if (first.reason instanceof TaskCancelledError)
          return { kind: "cancelled", error: first.reason.message, durationMs: elapsedMs() };
        return {
          kind: "failed",
          error: `aborted: ${messageOf(first.reason)}`,
          durationMs: elapsedMs(),
        };
      }
      case "settled":
        return first.ok
          ? succeeded(first.output, elapsedMs(), options.maxOutputBytes)
          : failed(first.error, elapsedMs());
      default: {
        const unhandled: never = first;
        return unhandled;
      }
    }
  } finally {
    clearTimeout(timer);
    if (onOuterAbort) outer?.removeEventListener("abort", onOuterAbort);
  }
}

/** Never rejects: a handler that throws synchronously counts like one that rejects. */
function callHandler(handler: TaskHandler, task: WorkerTask): Promise<Settled> {
  try {
    return Promise.resolve(handler(task)).then(
      (output): Settled => ({ kind: "settled", ok: true, output }),
      (error: unknown): Settled => ({ kind: "settled", ok: false, error }),
    );
  } catch (error) {
    return Promise.resolve({ kind: "settled", ok: false, error });
  }
}

function succeeded(
  output: unknown,
  durationMs: number,
  maxOutputBytes: number | undefined,
): TaskOutcome {
  const bytes = outputBytes(output);
  if (typeof bytes === "string") return { kind: "failed", error: bytes, durationMs };
  if (maxOutputBytes !== undefined && bytes.byteLength > maxOutputBytes) {
    return {
      kind: "failed",
      error: `output of ${bytes.byteLength} bytes exceeds the limit of ${maxOutputBytes} bytes`,
      durationMs,
    };
  }
  return { kind: "succeeded", output: bytes, durationMs };
}

function failed(error: unknown, durationMs: number): TaskOutcome {
  return { kind: "failed", error: messageOf(error), durationMs };
}

/** The output as bytes, or why it cannot be sent (handlers written in JavaScript can return anything). */
function outputBytes(output: unknown): Uint8Array | string {
  if (output === undefined || output === null) return new Uint8Array(0);
  if (output instanceof Uint8Array) return output;
  if (typeof output === "string") return new TextEncoder().encode(output);
  return `handler returned ${describeType(output)}; return a string, a Uint8Array or nothing`;
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const message =
    text.length > 0 ? text : error instanceof Error ? error.name : "failed without a message";
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 1)}…` : message;
}

/** 200 → "0.2", 300000 → "300", 1500 → "1.5". */
export function formatSeconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}
