// Runs a real PostgreSQL (Debian's; CI installs it with apt) in a temporary
// directory on a free 127.0.0.1 port, for the ledger's PostgreSQL store and
// the meshes on it: initdb with trust auth, then pg_ctl start, which returns
// once the server takes connections (-w: it polls the server, not a sleep).
// initdb and postgres refuse to run as root, so as root both run as the
// `postgres` OS user (the package creates it) through runuser, and the
// directory is handed to that user. stop() and start() again keep the port
// and the data, as a restart of the same server would; close() stops it and
// removes the directory. A server still running when this process exits is
// stopped then (immediate mode), so none outlives its test.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./etcd-server.js";

const run = promisify(execFile);
const START_TIMEOUT_SEC = 60;

export interface PostgresServer {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database>, with `password` in it when given (trust auth ignores it). */
  url(database: string, password?: string): string;
  /** Creates a database (a fresh name each call unless one is given); resolves to its url. */
  createDatabase(name?: string): Promise<string>;
  readonly isRunning: boolean;
  /** Starts it again after stop(), same port and data. */
  start(): Promise<void>;
  /** Stops it (fast mode: connections are ended), keeping the data. */
  stop(): Promise<void>;
  /** Stops it and removes its directory; safe to call twice. */
  close(): Promise<void>;
}

/** Where initdb and pg_ctl are: SCALEMESH_POSTGRES_BIN, else PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.SCALEMESH_POSTGRES_BIN;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? "").split(delimiter))
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  const debian = "/usr/lib/postgresql";
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(debian, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(debian, versions[0], "bin");
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const binDir = postgresBinDir();
  if (binDir === undefined)
    throw new Error(
      "initdb was not found (PATH, /usr/lib/postgresql/N/bin); install PostgreSQL (apt-get install postgresql) or set SCALEMESH_POSTGRES_BIN",
    );
  const root = mkdtempSync(join(tmpdir(), "scalemesh-pg-"));
  const dataDir = join(root, "data");
  const logFile = join(root, "server.log");
  const asServer = serverUser();
  if (asServer) chownSync(root, asServer.uid, asServer.gid);
  const command = (name: string, args: readonly string[]): [string, string[]] =>
    asServer
      ? ["runuser", ["-u", asServer.name, "--", join(binDir, name), ...args]]
      : [join(binDir, name), [...args]];
  const port = await freePort();
  let isRunning = false;
  let isClosed = false;
  let databases = 0;

  const pgCtl = (args: readonly string[]): Promise<unknown> => {
    const [file, argv] = command("pg_ctl", ["-D", dataDir, ...args]);
    return run(file, argv).catch((error: unknown) => {
      throw new Error(
        `pg_ctl ${args.at(-1)} failed: ${errorText(error)}; log: ${logTail(logFile)}`,
      );
    });
  };
  const stopNow = (): void => {
    if (!isRunning) return;
    const [file, argv] = command("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
    spawnSync(file, argv, { stdio: "ignore" });
  };
  process.once("exit", stopNow);

  const server: PostgresServer = {
    port,
    url: (database, password) =>
      `postgres://postgres${password === undefined ? "" : `:${encodeURIComponent(password)}`}@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      databases += 1;
      const database = name ?? `ledger_${process.pid}_${databases}`;
      const client = new pg.Client({ connectionString: server.url("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${database}"`);
      } finally {
        await client.end();
      }
      return server.url(database);
    },
    get isRunning() {
      return isRunning;
    },
    async start() {
      if (isRunning) return;
      await pgCtl([
        "-l",
        logFile,
        "-w",
        "-t",
        String(START_TIMEOUT_SEC),
        "-o",
        `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`,
        "start",
      ]);
      isRunning = true;
    },
    async stop() {
      if (!isRunning) return;
      await pgCtl(["-m", "fast", "-w", "stop"]);
      isRunning = false;
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      try {
        await server.stop();
      } finally {
        process.off("exit", stopNow);
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  try {
    const [file, argv] = command("initdb", [
      "-D",
      dataDir,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      // The cluster is thrown away after the test: initdb need not sync it.
      "--no-sync",
    ]);
    await run(file, argv).catch((error: unknown) => {
      throw new Error(`initdb failed: ${errorText(error)}`);
    });
    await server.start();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

/** As root: the OS user the server runs as (`postgres`); otherwise none (it runs as this user). */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.SCALEMESH_POSTGRES_USER ?? "postgres";
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
    return { name, uid, gid };
  } catch {
    throw new Error(
      `running as root, and there is no OS user "${name}" to run PostgreSQL as (initdb refuses root); install the postgresql package, which creates it, or set SCALEMESH_POSTGRES_USER`,
    );
  }
}

function errorText(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text = typeof stderr === "string" && stderr.trim() !== "" ? stderr : String(error);
  return text.trim().split("\n").slice(-3).join(" | ");
}

function logTail(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}
