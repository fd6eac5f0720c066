// A bench child process (a BullMQ worker, a load driver): a Node program from
// dist/test/bench that speaks JSON lines on stdout and takes commands on
// stdin. The parent waits for lines (bounded), never for a sleep.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { projectRoot } from "../../libs/telemetry/version.js";

export type BenchLine = Record<string, unknown>;

export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLine(predicate: (line: BenchLine) => boolean, timeoutMs: number): Promise<BenchLine>;
  send(text: string): void;
  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  stop(graceMs?: number): Promise<number | string>;
}

export function startBenchProcess(
  name: string,
  script: string,
  args: readonly string[],
): BenchProcess {
  const child = spawn(
    process.execPath,
    [join(projectRoot(), "dist", "test", "bench", script), ...args],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const lines: BenchLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{
    predicate: (line: BenchLine) => boolean;
    resolve: (line: BenchLine) => void;
  }>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: BenchLine;
    try {
      line = JSON.parse(text) as BenchLine;
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.predicate(line)) continue;
      waiters.delete(waiter);
      waiter.resolve(line);
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (text) =>
    stderr.push(text),
  );
  // A child that dies must not crash the parent with EPIPE on its stdin.
  child.stdin?.on("error", () => undefined);
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  return {
    name,
    child,
    exited,
    waitForLine(predicate, timeoutMs) {
      const seen = lines.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string): void => {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name}: ${why}; stderr: ${stderr.slice(-5).join(" | ")}`));
        };
        const waiter = {
          predicate,
          resolve: (line: BenchLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => fail(`no matching line within ${timeoutMs} ms`), timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (waiters.has(waiter)) fail(`exited (${code}) before the expected line`);
        });
      });
    },
    send(text) {
      if (isRunning()) child.stdin?.write(`${text}\n`);
    },
    async stop(graceMs = 10_000) {
      if (!isRunning()) return exited;
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
  };
}

/**
 * `drivers` driver processes of `script` sharing `workers` simulated workers
 * (`--address`, `--workers` its share, `--prefix` d1, d2, ...), plus `extraArgs`.
 */
export function startDriverProcesses(
  script: string,
  options: { address: string; workers: number; drivers: number; extraArgs?: readonly string[] },
): BenchProcess[] {
  const { address, workers, drivers } = options;
  return Array.from({ length: drivers }, (_, i) =>
    startBenchProcess(`${script} ${i + 1}`, script, [
      "--address",
      address,
      "--workers",
      String(Math.floor(workers / drivers) + (i < workers % drivers ? 1 : 0)),
      "--prefix",
      `d${i + 1}`,
      ...(options.extraArgs ?? []),
    ]),
  );
}
