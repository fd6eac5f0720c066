import { create } from "@bufbuild/protobuf";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { TaskSpecSchema } from "../../../libs/contracts/index.js";
import {
  executeTask,
  TaskCancelledError,
  type TaskOutcome,
} from "../../../libs/worker-sdk/index.js";
import { createExecHandler, STDERR_TAIL_BYTES } from "./exec-handler.js";

const scratch = mkdtempSync(join(tmpdir(), "exec-handler-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the command the way the worker does: executeTask with a time limit. */
function runCommand(
  command: string,
  payload: string | Uint8Array,
  timeoutMs = 5000,
): Promise<TaskOutcome> {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return executeTask({
    handler: createExecHandler({ command }),
    task: {
      taskId: "exec-task",
      attempt: 2,
      payload: bytes,
      spec: create(TaskSpecSchema, { taskId: "exec-task" }),
    },
    timeoutMs,
  });
}

const outputText = (outcome: TaskOutcome): string => {
  if (outcome.kind !== "succeeded")
    throw new Error(`expected success, got ${outcome.kind}: ${outcome.error}`);
  return new TextDecoder().decode(outcome.output);
};

/** A process is gone once it no longer exists or is only a zombie waiting for its (new) parent. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

describe("exec handler", () => {
  it("exec:cat echoes stdin as the output", async () => {
    expect(outputText(await runCommand("cat", "hello\nworld"))).toBe("hello\nworld");
  });

  it("passes the task id and attempt in the environment", async () => {
    expect(
      outputText(
        await runCommand('printf "%s/%s" "$SCALEMESH_TASK_ID" "$SCALEMESH_TASK_ATTEMPT"', ""),
      ),
    ).toBe("exec-task/2");
  });

  it("exec:exit 3 fails naming exit code 3", async () => {
    const outcome = await runCommand("exit 3", "");
    expect(outcome).toMatchObject({ kind: "failed", error: "command exited with code 3" });
  });

  it("a failure carries the last 1 KiB of stderr", async () => {
    const outcome = await runCommand(
      `head -c 3000 /dev/zero | tr '\\0' x >&2; printf END >&2; exit 1`,
      "",
    );
    expect(outcome.kind).toBe("failed");
    if (outcome.kind !== "failed") return;
    expect(outcome.error).toMatch(/^command exited with code 1; stderr: x+END$/);
    expect(outcome.error.length).toBe(
      "command exited with code 1; stderr: ".length + STDERR_TAIL_BYTES,
    );
  });

  it("a command that ignores a large payload still succeeds", async () => {
    expect(outputText(await runCommand("true", new Uint8Array(1024 * 1024)))).toBe("");
  });

  it("kills a sleep 5 at a 200 ms timeout, with everything it started, and reports it timed out", async () => {
    const pidFile = join(scratch, "sleep.pid");
    const outcome = await runCommand(`sleep 5 & echo $! > ${pidFile}; wait`, "", 200);
    expect(outcome).toMatchObject({ kind: "timed_out", error: "timed out after 0.2 s" });
    const sleepPid = Number(readFileSync(pidFile, "utf8").trim());
    for (let tries = 0; tries < 100 && !isGone(sleepPid); tries += 1) await sleep(20);
    expect(isGone(sleepPid)).toBe(true);
  });

  it("kills the command with everything it started when the coordinator cancels the task, and reports it cancelled", async () => {
    const pidFile = join(scratch, "cancelled.pid");
    const cancel = new AbortController();
    const pending = executeTask({
      handler: createExecHandler({
        command: `sleep 5 & echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait`,
      }),
      task: {
        taskId: "cancelled",
        attempt: 1,
        payload: new Uint8Array(0),
        spec: create(TaskSpecSchema),
      },
      timeoutMs: 5000,
      signal: cancel.signal,
    });
    for (let tries = 0; tries < 250 && !existsSync(pidFile); tries += 1) await sleep(20);
    cancel.abort(new TaskCancelledError("operator asked"));
    expect(await pending).toMatchObject({ kind: "cancelled", error: "cancelled: operator asked" });
    const sleepPid = Number(readFileSync(pidFile, "utf8").trim());
    for (let tries = 0; tries < 100 && !isGone(sleepPid); tries += 1) await sleep(20);
    expect(isGone(sleepPid)).toBe(true);
  });

  it("refuses stdout beyond the output limit", async () => {
    const outcome = await executeTask({
      handler: createExecHandler({ command: "head -c 5000 /dev/zero", maxOutputBytes: 1000 }),
      task: { taskId: "big", attempt: 1, payload: new Uint8Array(0), spec: create(TaskSpecSchema) },
      timeoutMs: 5000,
    });
    expect(outcome).toMatchObject({ kind: "failed", error: "stdout exceeded 1000 bytes" });
  });
});
