import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskSpecSchema } from "../contracts/index.js";
import { executeTask, formatSeconds, MAX_ERROR_CHARS } from "./execute-task.js";
import { TaskCancelledError, type TaskHandler, type TaskOutcome } from "./task.js";

const task = {
  taskId: "t1",
  attempt: 1,
  payload: new Uint8Array([104, 105]),
  spec: create(TaskSpecSchema, { taskId: "t1" }),
};
const run = (
  handler: TaskHandler,
  extra: { timeoutMs?: number; signal?: AbortSignal; maxOutputBytes?: number } = {},
): Promise<TaskOutcome> =>
  executeTask({
    handler,
    task,
    timeoutMs: extra.timeoutMs ?? 1000,
    signal: extra.signal,
    maxOutputBytes: extra.maxOutputBytes,
  });
const text = (outcome: TaskOutcome): string =>
  outcome.kind === "succeeded"
    ? new TextDecoder().decode(outcome.output)
    : `(${outcome.kind}) ${outcome.error}`;

describe("executeTask", () => {
  it.each<{ name: string; handler: TaskHandler; expected: string }>([
    { name: "a string is sent as UTF-8", handler: async () => "héllo", expected: "héllo" },
    { name: "bytes are sent as they are", handler: async (t) => t.payload, expected: "hi" },
    { name: "nothing is an empty output", handler: async () => undefined, expected: "" },
    {
      name: "a rejection is a failure with its message",
      handler: async () => Promise.reject(new Error("boom")),
      expected: "(failed) boom",
    },
    {
      name: "a synchronous throw is a failure too",
      handler: () => {
        throw new Error("sync boom");
      },
      expected: "(failed) sync boom",
    },
    {
      name: "a thrown non-error is described",
      handler: async () => Promise.reject("plain"),
      expected: "(failed) plain",
    },
    {
      name: "an output of another type fails, saying what to return",
      handler: async () => ({ a: 1 }) as unknown as string,
      expected: "(failed) handler returned an object; return a string, a Uint8Array or nothing",
    },
  ])("$name", async ({ handler, expected }) => {
    expect(text(await run(handler))).toBe(expected);
  });

  it("times out, aborts the handler's signal and says after how long", async () => {
    let signal: AbortSignal | undefined;
    const outcome = await run(
      (t) => {
        signal = t.signal;
        return new Promise(() => undefined);
      },
      { timeoutMs: 50 },
    );
    expect(outcome).toMatchObject({ kind: "timed_out", error: "timed out after 0.05 s" });
    expect(signal?.aborted).toBe(true);
  });

  it("fails with the reason when the worker aborts it", async () => {
    const stop = new AbortController();
    const pending = run(
      (t) =>
        new Promise((_, reject) =>
          t.signal.addEventListener("abort", () => reject(new Error("ignored"))),
        ),
      { signal: stop.signal },
    );
    stop.abort(new Error("worker stopping"));
    expect(await pending).toMatchObject({ kind: "failed", error: "aborted: worker stopping" });
  });

  it.each([
    { reason: "operator asked", error: "cancelled: operator asked" },
    { reason: "", error: "cancelled: by the coordinator" },
  ])(
    "reports a cancellation by the coordinator as cancelled: $error",
    async ({ reason, error }) => {
      const cancel = new AbortController();
      let handlerReason: unknown;
      const pending = run(
        (t) =>
          new Promise((_, reject) =>
            t.signal.addEventListener("abort", () => reject((handlerReason = t.signal.reason))),
          ),
        { signal: cancel.signal },
      );
      cancel.abort(new TaskCancelledError(reason));
      expect(await pending).toMatchObject({ kind: "cancelled", error });
      expect(handlerReason).toBeInstanceOf(TaskCancelledError);
    },
  );

  it("fails an output above the limit instead of sending it", async () => {
    const outcome = await run(async () => new Uint8Array(2048), { maxOutputBytes: 1024 });
    expect(outcome).toMatchObject({
      kind: "failed",
      error: "output of 2048 bytes exceeds the limit of 1024 bytes",
    });
  });

  it("cuts very long error messages", async () => {
    const outcome = await run(async () =>
      Promise.reject(new Error("x".repeat(MAX_ERROR_CHARS * 2))),
    );
    expect(outcome.kind === "failed" && outcome.error.length).toBe(MAX_ERROR_CHARS);
  });
});

describe("formatSeconds", () => {
  it.each([
    [200, "0.2"],
    [300_000, "300"],
    [1500, "1.5"],
    [1, "0.001"],
  ])("%d ms reads %s s", (ms, expected) => {
    expect(formatSeconds(ms)).toBe(expected);
  });
});
