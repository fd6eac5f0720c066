// What --handler / worker.handler says runs a task, parsed without side
// effects so a bad value is refused before anything starts.

export type HandlerSpec =
  /** "": the built-in handler, which returns the payload unchanged. */
  | { readonly kind: "builtin" }
  /** module:PATH — an ES module (path relative to the working directory). */
  | { readonly kind: "module"; readonly path: string }
  /** exec:COMMAND — run with /bin/sh -c, payload on stdin, stdout as output. */
  | { readonly kind: "exec"; readonly command: string };

export type HandlerSpecResult =
  | { readonly ok: true; readonly spec: HandlerSpec }
  | { readonly ok: false; readonly error: string };

export const HANDLER_SPEC_ALLOWED =
  'module:PATH (an ES module whose default export, or export named "handle", runs a task) or exec:COMMAND (run with /bin/sh -c, payload on stdin)';

export function parseHandlerSpec(text: string): HandlerSpecResult {
  if (text.trim() === "") return { ok: true, spec: { kind: "builtin" } };
  if (text.startsWith("module:")) {
    const path = text.slice("module:".length).trim();
    return path
      ? { ok: true, spec: { kind: "module", path } }
      : { ok: false, error: `handler "${text}" names no module; expected module:PATH` };
  }
  if (text.startsWith("exec:")) {
    const command = text.slice("exec:".length);
    return command.trim()
      ? { ok: true, spec: { kind: "exec", command } }
      : { ok: false, error: `handler "${text}" names no command; expected exec:COMMAND` };
  }
  return { ok: false, error: `unknown handler "${text}"; expected ${HANDLER_SPEC_ALLOWED}` };
}

export function describeHandlerSpec(spec: HandlerSpec): string {
  switch (spec.kind) {
    case "builtin":
      return "builtin (echo)";
    case "module":
      return `module:${spec.path}`;
    case "exec":
      return `exec:${spec.command}`;
    default: {
      const unhandled: never = spec;
      return unhandled;
    }
  }
}
