// Starts a scalemesh service as a real child process on ephemeral 127.0.0.1
// ports, waits for the log line that says it listens (not a sleep), keeps
// its logs for assertions, and stops it even when a test fails.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { projectRoot } from "../../libs/telemetry/version.js";

export type ServiceKind =
  "coordinator" | "balancer" | "optimizer" | "worker-agent" | "bench-echo" | "bench-bare";

export interface ServiceProcess {
  readonly kind: ServiceKind;
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly logs: Record<string, unknown>[];
  readonly stderr: string[];
  /** Resolves with the exit code (or signal name) once the process ends. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

export interface StartOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** The log message that means "ready"; defaults to "<kind> listening". */
  readonly readyMessage?: string;
  readonly timeoutMs?: number;
}

const running = new Set<ServiceProcess>();

export function serviceEntry(kind: ServiceKind | "cli"): string {
  if (kind === "bench-echo") return join(projectRoot(), "dist", "test", "bench", "echo-server.js");
  if (kind === "bench-bare") return join(projectRoot(), "dist", "test", "bench", "bare-echo.js");
  return join(projectRoot(), "dist", "services", kind, "main.js");
}

export async function startService(
  kind: ServiceKind,
  options: StartOptions = {},
): Promise<ServiceProcess> {
  // CPU_PROFILE_DIR in a service's env: it writes a CPU profile there when it exits
  // (node refuses --cpu-prof in NODE_OPTIONS, so it goes on the command line).
  const { CPU_PROFILE_DIR: profileDir, ...env } = options.env ?? {};
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, serviceEntry(kind), ...(options.args ?? [])],
    {
      env: { ...process.env, SCALEMESH_TELEMETRY_LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{
    predicate: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (text) =>
    stderr.push(text),
  );
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );

  const waitForLog = (
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (line: Record<string, unknown>) => (clearTimeout(timer), resolve(line)),
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(
            `${kind}: no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-5).join(" | ")}; last logs: ${JSON.stringify(logs.slice(-3))}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
      exited.then((code) => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(
          new Error(
            `${kind} exited (${code}) before it was ready; stderr: ${stderr.slice(-10).join(" | ")}`,
          ),
        );
      });
    });
  };

  const readyMessage = options.readyMessage ?? `${kind.replace("-agent", "")} listening`;
  const ready = await waitForLog(
    (line) => line.msg === readyMessage,
    options.timeoutMs ?? 20_000,
  ).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  const service: ServiceProcess = {
    kind,
    child,
    grpcPort: Number(ready.grpcPort ?? 0),
    httpPort: Number(ready.httpPort ?? 0),
    logs,
    stderr,
    exited,
    waitForLog,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
        const code = await exited;
        clearTimeout(force);
        running.delete(service);
        return code;
      }
      running.delete(service);
      return exited;
    },
  };
  running.add(service);
  return service;
}

/** Kills whatever a test left running (call from afterAll/afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop("SIGKILL")));
}
