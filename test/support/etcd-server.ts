// Runs a real single-member etcd (Debian's etcd-server; CI installs it with
// apt) on free 127.0.0.1 ports with a temporary data dir, for the etcd://
// discovery tests. start() waits until GET /health says healthy (not a
// sleep); stop() and start() again keep the ports and the data, as a restart
// of the same member would; close() stops it and removes the dir.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The etcd binary to run; SCALEMESH_ETCD_BIN overrides the one on PATH. */
const ETCD_BIN = process.env.SCALEMESH_ETCD_BIN ?? "etcd";
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export interface EtcdServer {
  /** 127.0.0.1:<client port>, as written in an etcd:// URI. */
  readonly clientAddress: string;
  readonly dataDir: string;
  /** etcd://<clientAddress><prefix>[?ttl_sec=N] */
  uri(prefix: string, ttlSec?: number): string;
  readonly isRunning: boolean;
  /** Starts it again after stop(), same ports and data; resolves once it is healthy. */
  start(): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL), keeping the data dir. */
  stop(): Promise<void>;
  /** Stops it and removes the data dir; safe to call twice. */
  close(): Promise<void>;
}

/** PEM files for a TLS client port that asks for a client certificate (--client-cert-auth). */
export interface EtcdTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export async function startEtcdServer(options: { tls?: EtcdTlsFiles } = {}): Promise<EtcdServer> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "scalemesh-etcd-"));
  const clientAddress = `127.0.0.1:${clientPort}`;
  const { tls } = options;
  const clientScheme = tls ? "https" : "http";
  const args = [
    "--name",
    "scalemesh-test",
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    `${clientScheme}://${clientAddress}`,
    "--advertise-client-urls",
    `${clientScheme}://${clientAddress}`,
    ...(tls
      ? [
          "--cert-file",
          tls.certFile,
          "--key-file",
          tls.keyFile,
          "--trusted-ca-file",
          tls.caFile,
          "--client-cert-auth",
        ]
      : []),
    "--listen-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peerPort}`,
    "--initial-cluster",
    `scalemesh-test=http://127.0.0.1:${peerPort}`,
    "--logger",
    "zap",
    "--log-level",
    "warn",
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let isClosed = false;
  const output: string[] = [];

  const start = async () => {
    if (child) return;
    const spawned = spawn(ETCD_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = spawned;
    const keep = (chunk: Buffer) =>
      output.push(
        ...chunk
          .toString()
          .split("\n")
          .filter((line) => line.length > 0),
      );
    spawned.stdout?.on("data", keep);
    spawned.stderr?.on("data", keep);
    let exitReason: string | undefined;
    exited = new Promise((resolve) => {
      spawned.once("error", (error: NodeJS.ErrnoException) => {
        exitReason =
          error.code === "ENOENT"
            ? `the etcd binary "${ETCD_BIN}" was not found; install it (apt-get install etcd-server) or set SCALEMESH_ETCD_BIN`
            : `etcd failed to start: ${error.message}`;
        resolve();
      });
      spawned.once("exit", (code, signal) => {
        exitReason ??= `etcd exited (${code ?? signal}) before it was healthy: ${output.slice(-5).join(" | ")}`;
        if (child === spawned) child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await isHealthy(clientAddress, tls))) {
      if (exitReason !== undefined) throw new Error(exitReason);
      if (Date.now() > deadline)
        throw new Error(
          `etcd on ${clientAddress} not healthy within ${READY_TIMEOUT_MS} ms: ${output.slice(-5).join(" | ")}`,
        );
      await sleep(100);
    }
  };

  const stop = async () => {
    const running = child;
    if (!running) return;
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    child = undefined;
  };

  const server: EtcdServer = {
    clientAddress,
    dataDir,
    uri: (prefix, ttlSec) =>
      `etcd://${clientAddress}${prefix}${ttlSec !== undefined ? `?ttl_sec=${ttlSec}` : ""}`,
    get isRunning() {
      return child !== undefined;
    },
    start,
    stop,
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

async function isHealthy(clientAddress: string, tls?: EtcdTlsFiles): Promise<boolean> {
  if (tls) return isHealthyOverTls(clientAddress, tls);
  try {
    const response = await fetch(`http://${clientAddress}/health`, {
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await response.json()) as { health?: unknown };
    return response.ok && body.health === "true";
  } catch {
    return false;
  }
}

function isHealthyOverTls(clientAddress: string, tls: EtcdTlsFiles): Promise<boolean> {
  const [host, port] = clientAddress.split(":");
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host,
        port: Number(port),
        path: "/health",
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        timeout: 1_000,
      },
      (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => resolve(response.statusCode === 200 && body.includes('"true"')));
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** A port nobody listens on right now (bound to 0, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
