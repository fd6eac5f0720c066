// module:PATH — an ES module whose default export, or export named `handle`,
// is an async function of the task. Its return value is the output: a
// string or bytes as they are, nothing as empty, anything else as JSON.
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import type { TaskHandler, TaskOutput, WorkerTask } from "../../../libs/worker-sdk/index.js";

export type LoadedHandler =
  | { readonly ok: true; readonly handler: TaskHandler }
  | { readonly ok: false; readonly error: string };

type ModuleFunction = (task: WorkerTask) => unknown;

export async function loadModuleHandler(path: string, cwd: string): Promise<LoadedHandler> {
  const isUrl = /^[a-z][a-z0-9+.-]*:/i.test(path) && !/^[a-z]:[\\/]/i.test(path);
  const url = isUrl ? path : pathToFileURL(resolvePath(cwd, path)).href;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    return {
      ok: false,
      error: `cannot import handler module ${path} (${url}): ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const handle = [loaded["default"], loaded["handle"]].find(
    (value): value is ModuleFunction => typeof value === "function",
  );
  if (!handle)
    return {
      ok: false,
      error: `handler module ${path} exports no function as its default export or as "handle"`,
    };
  return { ok: true, handler: async (task) => toTaskOutput(await handle(task)) };
}

export function toTaskOutput(value: unknown): TaskOutput {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new Error(
      `cannot turn the handler's return value into JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (json === undefined)
    throw new Error(`the handler returned a ${typeof value}, which has no JSON form`);
  return json;
}
