// A throwaway redis-server for the peer benchmark: Debian's binary on a free
// 127.0.0.1 port, no persistence, ready once it answers PING (not after a
// sleep), stopped with SHUTDOWN NOSAVE and, failing that, by signal.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RedisServer {
  readonly port: number;
  readonly version: string;
  stop(): Promise<void>;
}

export const REDIS_MISSING_MESSAGE =
  "npm run bench needs redis-server: apt-get install -y redis-server";

/** The `redis-server --version` line, or undefined when it is not on PATH. */
export function redisServerVersion(): string | undefined {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) return undefined;
  return /v=(\S+)/.exec(probe.stdout)?.[1] ?? probe.stdout.trim();
}

/**
 * How Redis keeps its data: "none" loses everything when it stops (its
 * default as a cache); "aof-everysec" appends every write to a file that is
 * fsynced once a second, so a crash of Redis loses nothing it acknowledged
 * and a power loss up to a second of it.
 */
export type RedisPersistence = "none" | "aof-everysec";

export const REDIS_PERSISTENCE_TEXT: Record<RedisPersistence, string> = {
  none: 'no persistence (--save "" --appendonly no): a Redis crash loses every queued job',
  "aof-everysec":
    "--appendonly yes --appendfsync everysec: survives a Redis crash, a power loss may lose the last second",
};

export async function startRedisServer(
  options: { readyTimeoutMs?: number; persistence?: RedisPersistence } = {},
): Promise<RedisServer> {
  const version = redisServerVersion();
  if (version === undefined) throw new Error(REDIS_MISSING_MESSAGE);
  const port = await freePort();
  const persistence =
    (options.persistence ?? "none") === "none"
      ? ["--appendonly", "no"]
      : [
          "--appendonly",
          "yes",
          "--appendfsync",
          "everysec",
          "--dir",
          mkdtempSync(join(tmpdir(), "scalemesh-redis-")),
        ];
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--logfile", ""],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPong(port, child, options.readyTimeoutMs ?? 10_000);
  } catch (error) {
    await stopChild(child, exited, port);
    throw new Error(
      `${(error as Error).message}; redis-server said: ${output.join("").slice(-500)}`,
    );
  }
  return { port, version, stop: () => stopChild(child, exited, port) };
}

/** Asks the kernel for a free port; redis-server binds it a moment later (a race we accept on a quiet machine). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null)
    throw new Error("could not find a free port");
  return address.port;
}

/** Sends one inline command and resolves with the first reply line. */
function command(port: number, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${text} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(`${text}\r\n`));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (!reply.includes("\r\n")) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.split("\r\n")[0] ?? "");
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // SHUTDOWN closes the connection without a reply.
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(reply.split("\r\n")[0] ?? "");
    });
  });
}

async function waitForPong(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `redis-server exited (${child.exitCode ?? child.signalCode}) before it answered PING`,
      );
    try {
      const reply = await command(port, "PING", 1_000);
      if (reply === "+PONG") return;
      lastError = `PING answered ${JSON.stringify(reply)}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await sleep(20);
  }
  throw new Error(
    `redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms (${lastError})`,
  );
}

async function stopChild(child: ChildProcess, exited: Promise<void>, port: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await command(port, "SHUTDOWN NOSAVE", 2_000).catch(() => undefined);
  if (await settlesWithin(exited, 3_000)) return;
  child.kill("SIGTERM");
  if (await settlesWithin(exited, 3_000)) return;
  child.kill("SIGKILL");
  await exited;
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const outcome = await Promise.race([
    promise.then(() => true),
    sleep(ms, false, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  return outcome;
}
