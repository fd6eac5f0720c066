// The real `scalemesh` CLI (dist/) as a running child process, for commands
// that go on (--watch) or wait (drain, scale): its output so far, a wait for
// output that matches (not a sleep), Ctrl-C, and its exit code. With
// `isTerminal` it runs under util-linux `script`, on a pseudo-terminal of its
// own, as an operator's shell would run it: stdout and stderr are then one
// terminal and arrive together on `output`.
import { spawn, type ChildProcess } from "node:child_process";
import { serviceEntry } from "./service-process.js";

export interface CliProcess {
  readonly child: ChildProcess;
  /** stdout (with `isTerminal`: everything the terminal showed). */
  output(): string;
  stderr(): string;
  /** Resolves with the output so far once `predicate` holds for it. */
  waitForOutput(predicate: (output: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Ctrl-C. */
  interrupt(): void;
  /** The exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

const shellQuoted = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

export function startCli(
  args: readonly string[],
  options: { isTerminal?: boolean; env?: Record<string, string> } = {},
): CliProcess {
  const command = [process.execPath, serviceEntry("cli"), ...args];
  const child = options.isTerminal
    ? // -q: no banner, -f: flush at once, -e: exit with the command's code; the log goes nowhere.
      spawn("script", ["-qfec", command.map(shellQuoted).join(" "), "/dev/null"], {
        env: { ...process.env, COLUMNS: "200", LINES: "50", ...options.env },
        stdio: ["pipe", "pipe", "pipe"],
      })
    : spawn(command[0] as string, command.slice(1), {
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
  running.add(child);
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    notify();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
    notify();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? "unknown");
      notify();
    }),
  );
  return {
    child,
    output: () => stdout,
    stderr: () => stderr,
    exited,
    interrupt: () => {
      child.kill("SIGINT");
    },
    waitForOutput(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(stdout)) {
            finish();
            resolve(stdout);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            finish();
            reject(
              new Error(
                `the CLI exited before the output came; stdout: ${stdout}; stderr: ${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `no such output within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Kills every CLI still running (a test that failed half-way). */
export function stopAllClis(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}
