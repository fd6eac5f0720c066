// The task handler a parsed --handler spec names.
import type { TaskHandler } from "../../../libs/worker-sdk/index.js";
import { createExecHandler } from "./exec-handler.js";
import type { HandlerSpec } from "./handler-spec.js";
import { loadModuleHandler, type LoadedHandler } from "./module-handler.js";

export interface CreateHandlerOptions {
  /** module: paths are relative to it, and exec: commands run in it. */
  readonly cwd: string;
  readonly maxOutputBytes?: number;
}

/** The built-in handler: returns the payload unchanged, so a fresh mesh does something visible. */
export const echoPayload: TaskHandler = async (task) => task.payload;

export async function createHandler(
  spec: HandlerSpec,
  options: CreateHandlerOptions,
): Promise<LoadedHandler> {
  switch (spec.kind) {
    case "builtin":
      return { ok: true, handler: echoPayload };
    case "module":
      return loadModuleHandler(spec.path, options.cwd);
    case "exec":
      return {
        ok: true,
        handler: createExecHandler({
          command: spec.command,
          cwd: options.cwd,
          maxOutputBytes: options.maxOutputBytes,
        }),
      };
    default: {
      const unhandled: never = spec;
      return unhandled;
    }
  }
}
