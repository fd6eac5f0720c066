import { describe, expect, it } from "vitest";
import { parseHandlerSpec, type HandlerSpecResult } from "./handler-spec.js";

describe("parseHandlerSpec", () => {
  it.each<{ name: string; text: string; expected: HandlerSpecResult }>([
    {
      name: "empty is the built-in handler",
      text: "",
      expected: { ok: true, spec: { kind: "builtin" } },
    },
    {
      name: "a module path",
      text: "module:examples/handlers/echo.mjs",
      expected: { ok: true, spec: { kind: "module", path: "examples/handlers/echo.mjs" } },
    },
    {
      name: "a module path keeps no surrounding spaces",
      text: "module: ./h.mjs ",
      expected: { ok: true, spec: { kind: "module", path: "./h.mjs" } },
    },
    {
      name: "a command is kept as written",
      text: "exec:tr a-z A-Z | cat",
      expected: { ok: true, spec: { kind: "exec", command: "tr a-z A-Z | cat" } },
    },
    {
      name: "a command may contain colons",
      text: "exec:echo a:b",
      expected: { ok: true, spec: { kind: "exec", command: "echo a:b" } },
    },
  ])("accepts $name", ({ text, expected }) => {
    expect(parseHandlerSpec(text)).toEqual(expected);
  });

  it.each([
    { text: "module:", error: /names no module/ },
    { text: "exec:   ", error: /names no command/ },
    {
      text: "python:main.py",
      error: /unknown handler "python:main.py"; expected module:PATH .* or exec:COMMAND/,
    },
    { text: "echo.mjs", error: /unknown handler "echo.mjs"/ },
    { text: "MODULE:x.mjs", error: /unknown handler/ },
  ])("refuses $text with a clear error", ({ text, error }) => {
    const result = parseHandlerSpec(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });
});
