import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TaskSpecSchema } from "../../../libs/contracts/index.js";
import { projectRoot } from "../../../libs/telemetry/version.js";
import { executeTask, type TaskHandler, type TaskOutcome } from "../../../libs/worker-sdk/index.js";
import { loadModuleHandler } from "./module-handler.js";

const scratch = mkdtempSync(join(tmpdir(), "module-handler-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writeModule(name: string, source: string): string {
  writeFileSync(join(scratch, name), source);
  return name;
}

async function load(path: string, cwd: string): Promise<TaskHandler> {
  const loaded = await loadModuleHandler(path, cwd);
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.handler;
}

function run(handler: TaskHandler, payload: Uint8Array | string): Promise<TaskOutcome> {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return executeTask({
    handler,
    task: { taskId: "m1", attempt: 1, payload: bytes, spec: create(TaskSpecSchema) },
    timeoutMs: 5000,
  });
}

const outputText = (outcome: TaskOutcome): string => {
  if (outcome.kind !== "succeeded")
    throw new Error(`expected success, got ${outcome.kind}: ${outcome.error}`);
  return new TextDecoder().decode(outcome.output);
};

describe("module handler", () => {
  it("loads examples/handlers/echo.mjs relative to the working directory and upper-cases text", async () => {
    const echo = await load("examples/handlers/echo.mjs", projectRoot());
    expect(outputText(await run(echo, "hello scalemesh"))).toBe("HELLO SCALEMESH");
  });

  it("echo.mjs sends bytes that are not text back unchanged", async () => {
    const echo = await load("examples/handlers/echo.mjs", projectRoot());
    const outcome = await run(echo, new Uint8Array([0xff, 0xfe, 0x00]));
    expect(outcome.kind === "succeeded" && [...outcome.output]).toEqual([0xff, 0xfe, 0x00]);
  });

  it("uses an export named handle when there is no default export, and sends objects as JSON", async () => {
    const handler = await load(
      writeModule(
        "named.mjs",
        "export async function handle(task) { return { id: task.taskId, n: 1 }; }",
      ),
      scratch,
    );
    expect(outputText(await run(handler, ""))).toBe('{"id":"m1","n":1}');
  });

  it("a handler that throws fails the task with its message", async () => {
    const handler = await load(join(projectRoot(), "examples/handlers/fail.mjs"), "/");
    expect(await run(handler, "")).toMatchObject({
      kind: "failed",
      error: "this task always fails",
    });
  });

  it.each([
    {
      name: "a missing file",
      path: "nowhere.mjs",
      error: /^cannot import handler module nowhere\.mjs/,
    },
    {
      name: "a module without a function",
      path: "plain.mjs",
      source: "export const handle = 42;",
      error: /exports no function as its default export or as "handle"/,
    },
    {
      name: "a module that does not parse",
      path: "broken.mjs",
      source: "export default async function (",
      error: /^cannot import handler module broken\.mjs/,
    },
  ])("refuses $name with a clear error", async ({ path, source, error }) => {
    if (source !== undefined) writeModule(path, source);
    const loaded = await loadModuleHandler(path, scratch);
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error).toMatch(error);
  });
});

describe("example handlers", () => {
  it("noop returns an empty output", async () => {
    const noop = await load("examples/handlers/noop.mjs", projectRoot());
    expect(outputText(await run(noop, "anything"))).toBe("");
  });

  it("sleep sleeps the payload's ms and says so", async () => {
    const sleepHandler = await load("examples/handlers/sleep.mjs", projectRoot());
    expect(outputText(await run(sleepHandler, '{"ms":10}'))).toBe("slept 10 ms");
  });

  it("sleep stops when its signal aborts", async () => {
    const sleepHandler = await load("examples/handlers/sleep.mjs", projectRoot());
    const outcome = await executeTask({
      handler: sleepHandler,
      task: {
        taskId: "s",
        attempt: 1,
        payload: new TextEncoder().encode('{"ms":5000}'),
        spec: create(TaskSpecSchema),
      },
      timeoutMs: 50,
    });
    expect(outcome).toMatchObject({ kind: "timed_out" });
  });

  it("sleep refuses a payload that is not JSON", async () => {
    const sleepHandler = await load("examples/handlers/sleep.mjs", projectRoot());
    expect(await run(sleepHandler, "soon")).toMatchObject({
      kind: "failed",
      error: expect.stringMatching(/^payload must be JSON like \{"ms": 100\}/),
    });
  });
});
