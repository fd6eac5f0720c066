// `scalemesh up` (= `npm start`): the whole mesh on one machine. Optimizer,
// coordinator and balancer run as child processes of `up`; the worker agents
// are the coordinator's own children, started by its autoscaler through the
// local provider (min_workers of them, more under load). Each writes its
// JSON log to .scalemesh/logs/. Ctrl-C stops them in order: the balancer,
// then the coordinator (which drains its workers first), then the optimizer.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { tlsSettingOf, type Config } from "../../libs/config/index.js";
import { Admin, WorkerState } from "../../libs/contracts/index.js";
import { Code, createRpcClient, toConnectError } from "../../libs/rpc/index.js";
import { projectRoot, SCALEMESH_VERSION } from "../../libs/telemetry/index.js";

export interface UpOptions {
  readonly config: Config;
  readonly configArgs: readonly string[];
  readonly workers: number;
  readonly slots: number;
  readonly handler: string;
  readonly logDir: string;
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logPath: string;
  readonly exited: Promise<number | string>;
}

export async function up(options: UpOptions, out: (text: string) => void): Promise<number> {
  const { config } = options;
  mkdirSync(options.logDir, { recursive: true });
  const children: Child[] = [];
  let stopping = false;
  const host = config.coordinator.host;
  const coordinatorUri = `static://${host}:${config.coordinator.grpc_port}`;

  const start = (
    name: string,
    service: string,
    args: readonly string[],
    env: Record<string, string>,
    readyMessage: string,
  ): Promise<Child> => {
    const logPath = join(options.logDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: "a" });
    // Its own process group, so the terminal's Ctrl-C reaches only `up`,
    // which then stops the children in a safe order.
    const child = spawn(
      process.execPath,
      [join(projectRoot(), "dist", "services", service, "main.js"), ...options.configArgs, ...args],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      },
    );
    const exited = new Promise<number | string>((done) =>
      child.once("exit", (code, signal) => done(code ?? signal ?? "unknown")),
    );
    const record: Child = { name, process: child, logPath, exited };
    children.push(record);
    child.stderr?.pipe(log);
    return new Promise<Child>((ready, fail) => {
      const timer = setTimeout(
        () =>
          fail(new Error(`${name} did not report "${readyMessage}" within 30 s; see ${logPath}`)),
        30_000,
      );
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        log.write(`${line}\n`);
        if (line.includes(`"msg":"${readyMessage}"`)) {
          clearTimeout(timer);
          ready(record);
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        if (!stopping) fail(new Error(`${name} exited (${code}); see ${logPath}`));
      });
    });
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    // Workers first (they drain), then the front door, then the core.
    for (const group of [
      (c: Child) => c.name === "balancer",
      (c: Child) => c.name === "coordinator",
      () => true,
    ]) {
      const batch = children.filter(
        (c) => group(c) && c.process.exitCode === null && c.process.signalCode === null,
      );
      for (const child of batch) child.process.kill("SIGTERM");
      await Promise.all(batch.map((c) => exitWithin(c, 20_000)));
    }
    for (const child of children)
      if (child.process.exitCode === null && child.process.signalCode === null)
        child.process.kill("SIGKILL");
  };

  // Signals are ours from the first moment: a Ctrl-C during start-up must
  // still stop the children already running (they are in their own group).
  let onSignal: (reason: string) => void = (reason) => {
    interruptedDuringStartup ??= reason;
  };
  let interruptedDuringStartup: string | undefined;
  const signalHandler = (signal: NodeJS.Signals): void =>
    onSignal(signal === "SIGINT" ? "interrupted" : "terminated");
  process.on("SIGINT", signalHandler);
  process.on("SIGTERM", signalHandler);
  const step = async (label: string, work: () => Promise<unknown>): Promise<void> => {
    if (interruptedDuringStartup) throw new Error(`${interruptedDuringStartup} during start-up`);
    const started = Date.now();
    await work();
    out(`  started ${label} (${Date.now() - started} ms)`);
  };

  // The coordinator's autoscaler runs the workers: local provider, at least `workers` of them.
  const autoscalerEnv: Record<string, string> = {
    SCALEMESH_AUTOSCALER_ENABLED: "true",
    SCALEMESH_SCALING_DEPLOYMENT_MODE: "local",
    SCALEMESH_SCALING_MIN_WORKERS: String(options.workers),
    SCALEMESH_SCALING_MAX_WORKERS: String(Math.max(options.workers, config.scaling.max_workers)),
    SCALEMESH_AUTOSCALER_LOCAL_SLOTS: String(options.slots),
    SCALEMESH_AUTOSCALER_LOCAL_HANDLER: options.handler,
    SCALEMESH_AUTOSCALER_WORKER_COORDINATOR: coordinatorUri,
  };
  let workerIds: string[] = [];
  try {
    out(
      `starting scalemesh ${SCALEMESH_VERSION}: optimizer, coordinator, balancer and ${options.workers} worker agent(s)...`,
    );
    await step("optimizer", () => start("optimizer", "optimizer", [], {}, "optimizer listening"));
    await step("coordinator", () =>
      start(
        "coordinator",
        "coordinator",
        [],
        {
          SCALEMESH_COORDINATOR_OPTIMIZER: `static://${config.optimizer.host}:${config.optimizer.grpc_port}`,
          ...autoscalerEnv,
        },
        "coordinator listening",
      ),
    );
    await step("balancer", () =>
      start(
        "balancer",
        "balancer",
        [],
        { SCALEMESH_BALANCER_COORDINATOR: coordinatorUri },
        "balancer listening",
      ),
    );
    await step(`${options.workers} worker agent(s)`, async () => {
      workerIds = await waitForWorkers(
        coordinatorUri,
        options.workers,
        () => interruptedDuringStartup !== undefined,
      );
    });
    if (interruptedDuringStartup) throw new Error(`${interruptedDuringStartup} during start-up`);
    out("");
    out(banner(options, workerIds));
  } catch (error) {
    out(
      `scalemesh up stopped: ${error instanceof Error ? error.message : String(error)}; stopping what had started...`,
    );
    await stopAll();
    process.off("SIGINT", signalHandler);
    process.off("SIGTERM", signalHandler);
    return interruptedDuringStartup ? 130 : 1;
  }

  return new Promise<number>((done) => {
    const stop = (reason: string, code: number): void => {
      if (stopping) return;
      out(`\n${reason}; stopping the mesh (workers drain first)...`);
      stopAll().then(() => {
        out("stopped.");
        done(code);
      });
    };
    onSignal = (reason) => stop(reason, 0);
    for (const child of children) {
      child.exited.then((code) => {
        if (!stopping) stop(`${child.name} exited (${code}); see ${child.logPath}`, 1);
      });
    }
  });
}

/** Waits until the coordinator's autoscaler has `count` workers registered; returns their ids. */
async function waitForWorkers(
  coordinatorUri: string,
  count: number,
  isInterrupted: () => boolean,
): Promise<string[]> {
  const admin = createRpcClient(Admin, coordinatorUri, { defaultDeadlineMs: 2_000 });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      const { workers } = await admin.listWorkers({}).catch((error: unknown) => {
        const refused = toConnectError(error);
        // Waiting cannot mend a refusal: say what the coordinator wants.
        if (refused.code === Code.Unauthenticated || refused.code === Code.PermissionDenied)
          throw new Error(
            `the coordinator refuses to list its workers: ${refused.rawMessage}. Set auth.token_file (SCALEMESH_AUTH_TOKEN_FILE) to a role token that may read them`,
          );
        return { workers: [] };
      });
      const ids = workers
        .filter((w) => w.state === WorkerState.ALIVE)
        .map((w) => w.spec?.workerId ?? "");
      if (ids.length >= count) return ids.sort();
      if (isInterrupted()) throw new Error("interrupted during start-up");
      if (Date.now() > deadline)
        throw new Error(
          `only ${ids.length} of ${count} worker agent(s) registered within 60 s; see the worker logs in .scalemesh/logs/`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    admin.close();
  }
}

/** Waits for a child to exit, at most `ms` (the caller SIGKILLs what is left). */
function exitWithin(child: Child, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    child.exited,
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}

function banner(options: UpOptions, workerIds: readonly string[]): string {
  const c = options.config;
  const logs = relative(process.cwd(), resolve(options.logDir)) || ".";
  const hint = connectHints(c);
  const http = (host: string, port: number): string => `${hint.scheme}://${host}:${port}`;
  return [
    `scalemesh ${SCALEMESH_VERSION} is up (logs in ${logs}/)`,
    `  coordinator  grpc ${c.coordinator.host}:${c.coordinator.grpc_port}  http ${http(c.coordinator.host, c.coordinator.http_port)}`,
    `  balancer     grpc ${hint.balancer}  http ${http(c.balancer.host, c.balancer.http_port)}`,
    `  optimizer    grpc ${c.optimizer.host}:${c.optimizer.grpc_port}  http ${http(c.optimizer.host, c.optimizer.http_port)}`,
    `  workers      ${workerIds.join(", ") || "none yet"} (${options.slots} slots each, handler ${displayHandler(options.handler)}; the autoscaler runs ${options.workers} to ${Math.max(options.workers, c.scaling.max_workers)})`,
    "",
    ...(hint.clientTokenNote ? [hint.clientTokenNote] : []),
    'Assign a task (the payload is base64 of "hello scalemesh"):',
    `  grpcurl ${hint.grpcurl} -d '{"task":{"payload":"aGVsbG8gc2NhbGVtZXNo"}}' ${hint.balancer} scalemesh.v1.Balancer/Assign`,
    "Wait for its result (use the taskId it printed):",
    `  grpcurl ${hint.grpcurl} -d '{"taskId":"TASK_ID"}' ${hint.balancer} scalemesh.v1.Balancer/AwaitTask`,
    "The same with the CLI, and the cluster over HTTP:",
    `  ${hint.clientTokenNote ? "SCALEMESH_AUTH_TOKEN_FILE=client.token " : ""}node dist/services/cli/main.js assign --payload "hello scalemesh" --wait`,
    `  curl -s ${hint.curl}-d '{}' -H 'content-type: application/json' ${http(c.coordinator.host, c.coordinator.http_port)}/scalemesh.v1.Admin/GetClusterStatus`,
    "",
    "Press Ctrl-C to stop.",
  ].join("\n");
}

/**
 * How the printed grpcurl and curl lines reach this mesh: plaintext, or with
 * the CLI's own certificate when tls is set; the Admin line with its role
 * token when auth.token_file is, the Balancer lines with a client role token
 * when roles are on (an operator's token cannot assign).
 */
export function connectHints(c: Config): {
  scheme: "http" | "https";
  balancer: string;
  grpcurl: string;
  curl: string;
  /** Said before the Assign lines when they need a client token the user has yet to make. */
  clientTokenNote: string;
} {
  const balancer = `${c.balancer.host}:${c.balancer.grpc_port}`;
  const tls = tlsSettingOf(c.tls, "cli");
  const files = tls.ok ? tls.setting.files : undefined;
  const header = (file: string) => ` -H "authorization: Bearer $(cat ${file})"`;
  const bearer = c.auth.token_file ? header(c.auth.token_file) : "";
  const rolesOn = c.auth.token_public_key_file !== "";
  const clientBearer = rolesOn ? header("client.token") : "";
  const clientTokenNote = rolesOn
    ? "Roles are on: Assign needs a client role token (scalemesh token create --key SIGNING_KEY --role client > client.token)."
    : "";
  if (!files)
    return {
      scheme: "http",
      balancer,
      grpcurl: `-plaintext${clientBearer}`,
      curl: bearer ? `${bearer.trim()} ` : "",
      clientTokenNote,
    };
  const certificate = `-cacert ${files.caFile} -cert ${files.certFile} -key ${files.keyFile}`;
  return {
    scheme: "https",
    balancer,
    grpcurl: `${certificate}${clientBearer}`,
    curl: `-${certificate.replaceAll(" -", " --")}${bearer} `,
    clientTokenNote,
  };
}

/** The handler as a person would type it: paths relative to where they stand. */
function displayHandler(handler: string): string {
  const path = /^module:(.*)$/.exec(handler)?.[1];
  return path && path.startsWith("/") ? `module:${relative(process.cwd(), path)}` : handler;
}
