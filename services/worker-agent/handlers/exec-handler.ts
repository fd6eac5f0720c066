// exec:COMMAND — each task runs `/bin/sh -c COMMAND` in its own process
// group: the payload on stdin, stdout is the output, exit code 0 is success.
// A failure names the exit code and carries the last 1 KiB of stderr. On
// timeout or abort the whole group is killed with SIGKILL, so children the
// command started do not outlive the task.
import { spawn } from "node:child_process";
import type { TaskHandler } from "../../../libs/worker-sdk/index.js";

export const STDERR_TAIL_BYTES = 1024;

export interface ExecHandlerOptions {
  readonly command: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** stdout beyond this fails the task (and kills it): the output must fit in one message. */
  readonly maxOutputBytes?: number;
}

export function createExecHandler(options: ExecHandlerOptions): TaskHandler {
  const maxOutputBytes = options.maxOutputBytes ?? 4 * 1024 * 1024;
  return (task) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", options.command], {
        cwd: options.cwd,
        env: {
          ...(options.env ?? process.env),
          SCALEMESH_TASK_ID: task.taskId,
          SCALEMESH_TASK_ATTEMPT: String(task.attempt),
        },
        // A new process group, so one kill reaches everything the command started.
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderrTail = Buffer.alloc(0);
      let failure: string | undefined;

      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // the group is already gone
        }
      };
      const onAbort = (): void => {
        const reason =
          task.signal.reason instanceof Error
            ? task.signal.reason.message
            : String(task.signal.reason);
        failure ??= `killed: ${reason}`;
        killGroup();
      };
      task.signal.addEventListener("abort", onAbort, { once: true });
      const cleanup = (): void => task.signal.removeEventListener("abort", onAbort);

      child.stdout.on("data", (chunk: Buffer) => {
        stdoutBytes += chunk.byteLength;
        if (stdoutBytes > maxOutputBytes) {
          failure ??= `stdout exceeded ${maxOutputBytes} bytes`;
          killGroup();
          return;
        }
        stdout.push(chunk);
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderrTail = Buffer.concat([stderrTail, chunk]).subarray(-STDERR_TAIL_BYTES);
      });
      // A command that does not read its input closes the pipe early (EPIPE); that is not a failure.
      child.stdin.on("error", () => undefined);
      child.stdin.end(task.payload);
      // Whatever the shell left running in its group ends with it.
      child.on("exit", () => killGroup());
      child.on("error", (error) => {
        cleanup();
        reject(
          new Error(`cannot run /bin/sh -c ${JSON.stringify(options.command)}: ${error.message}`),
        );
      });
      child.on("close", (code, signal) => {
        cleanup();
        if (failure) return reject(new Error(failure));
        if (code === 0) return resolve(Buffer.concat(stdout));
        const how =
          code !== null ? `exited with code ${code}` : `was killed by ${signal ?? "a signal"}`;
        const stderr = stderrTail.toString("utf8").trim();
        reject(new Error(`command ${how}${stderr ? `; stderr: ${stderr}` : ""}`));
      });
      if (task.signal.aborted) onAbort();
    });
}
