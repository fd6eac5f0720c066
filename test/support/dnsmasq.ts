// A real dnsmasq on 127.0.0.1 (UDP and TCP, one free port) serving the SRV
// and address records a test gives it, authoritative for one zone so that
// unknown names get NXDOMAIN instead of a forward. Waits until it answers a
// query, not a sleep, and stops even when a test fails.
//
// Changing records: address records live in an addn-hosts file, which
// dnsmasq re-reads on SIGHUP, so a change of addresses alone is a reload
// with no downtime. SRV records (srv-host) are not reloaded by SIGHUP, so a
// change of SRV records restarts dnsmasq on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resolver } from "node:dns/promises";

export interface SrvRecord {
  /** e.g. _coordinator._tcp.mesh.test */
  readonly name: string;
  /** A host name (give it an address record) or an IP literal. */
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

export interface AddressRecord {
  readonly name: string;
  /** IPv4 or IPv6; several records of one name give several addresses. */
  readonly address: string;
}

export interface DnsRecords {
  readonly srv?: readonly SrvRecord[];
  readonly addresses?: readonly AddressRecord[];
}

export interface DnsmasqOptions {
  /** The zone dnsmasq answers for alone (NXDOMAIN for unknown names in it); default mesh.test. */
  readonly zone?: string;
  /** TTL of every answer; default 60. */
  readonly ttlSec?: number;
}

export interface Dnsmasq {
  /** 127.0.0.1:port, as a dns+srv:// URI's server. */
  readonly server: string;
  readonly port: number;
  /** How many queries dnsmasq has logged since it (first) started. */
  queryCount(): number;
  /** Replaces every record: "reloaded" (SIGHUP, addresses only) or "restarted" (same port, SRV changed or stopped before). */
  setRecords(records: DnsRecords): Promise<"reloaded" | "restarted">;
  /** Stops dnsmasq; idempotent. setRecords afterwards starts it again on the same port. */
  stop(): Promise<void>;
  /** Stops dnsmasq and removes its files; idempotent. */
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const running = new Set<ChildProcess>();
// A test runner that dies must not leave dnsmasq holding ports.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function dnsmasqBinary(): string {
  const candidates = [
    process.env.DNSMASQ_BIN,
    "/usr/sbin/dnsmasq",
    "/usr/local/sbin/dnsmasq",
  ].filter((path): path is string => !!path);
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `dnsmasq not found (looked at ${candidates.join(", ")}); install it with "apt-get install dnsmasq" (CI does in .ci/run) or set DNSMASQ_BIN`,
    );
  }
  return found;
}

export async function startDnsmasq(
  records: DnsRecords,
  options: DnsmasqOptions = {},
): Promise<Dnsmasq> {
  const binary = dnsmasqBinary();
  const zone = options.zone ?? "mesh.test";
  const ttlSec = options.ttlSec ?? 60;
  const dir = await mkdtemp(join(tmpdir(), "scalemesh-dnsmasq-"));
  const confFile = join(dir, "dnsmasq.conf");
  const hostsFile = join(dir, "hosts");
  let current: DnsRecords = records;
  let generation = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let queryLines = 0;
  const stderr: string[] = [];
  let isClosed = false;

  // Every hosts file carries a marker name, so a reload is known to be done
  // when dnsmasq answers for the new marker.
  const markerName = () => `generation-${generation}.${zone}`;

  const writeFiles = async () => {
    generation += 1;
    const srvLines = (current.srv ?? []).map(
      (r) => `srv-host=${r.name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 0}`,
    );
    await writeFile(confFile, `${srvLines.join("\n")}\n`);
    const hostLines = [
      ...(current.addresses ?? []).map((r) => `${r.address} ${r.name}`),
      `127.0.0.1 ${markerName()}`,
    ];
    await writeFile(hostsFile, `${hostLines.join("\n")}\n`);
  };

  const spawnOnce = async (onPort: number) => {
    await writeFiles();
    const proc = spawn(
      binary,
      [
        "--keep-in-foreground", // we own its lifetime; no fork, no daemon
        "--user=root", // stay as the user that started it instead of dropping to nobody
        `--port=${onPort}`,
        "--listen-address=127.0.0.1",
        "--bind-interfaces", // bind only 127.0.0.1:port, beside any system resolver on :53
        "--no-resolv", // no upstream: answers come from our files only
        "--no-hosts",
        `--local=/${zone}/`,
        `--local-ttl=${ttlSec}`,
        "--pid-file=", // none
        "--log-facility=-", // stderr
        "--log-queries",
        `--addn-hosts=${hostsFile}`,
        `--conf-file=${confFile}`, // also keeps /etc/dnsmasq.conf out
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    running.add(proc);
    proc.stderr?.setEncoding("utf8");
    let partial = "";
    proc.stderr?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        stderr.push(line);
        if (stderr.length > 200) stderr.shift();
        if (/\bquery\[/.test(line) && !line.includes(" generation-")) queryLines += 1;
      }
    });
    const exit = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    exit.then(
      () => running.delete(proc),
      () => {},
    );
    child = proc;
    exited = exit;
    await waitUntilAnswering(`127.0.0.1:${onPort}`, markerName(), exit, () =>
      stderr.slice(-5).join(" | "),
    );
  };

  const stopChild = async () => {
    const proc = child;
    if (proc === undefined) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  // A free port can be taken between the probe and dnsmasq's bind; try a few.
  for (let attempt = 1; ; attempt += 1) {
    port = await freeUdpAndTcpPort();
    try {
      await spawnOnce(port);
      break;
    } catch (error) {
      await stopChild();
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  return {
    server: `127.0.0.1:${port}`,
    port,
    queryCount: () => queryLines,
    setRecords: async (next) => {
      if (isClosed) throw new Error("dnsmasq harness is closed");
      const isSrvSame = JSON.stringify(next.srv ?? []) === JSON.stringify(current.srv ?? []);
      current = next;
      if (isSrvSame && child !== undefined) {
        await writeFiles();
        child.kill("SIGHUP");
        await waitUntilAnswering(`127.0.0.1:${port}`, markerName(), exited, () =>
          stderr.slice(-5).join(" | "),
        );
        return "reloaded";
      }
      await stopChild();
      await spawnOnce(port);
      return "restarted";
    },
    stop: stopChild,
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      await stopChild();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls with real queries until dnsmasq answers for `probeName`; rejects if it exits first or after READY_TIMEOUT_MS. */
async function waitUntilAnswering(
  server: string,
  probeName: string,
  exited: Promise<void>,
  lastLog: () => string,
): Promise<void> {
  const resolver = new Resolver({ timeout: 250, tries: 1 });
  resolver.setServers([server]);
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "";
  while (Date.now() < deadline) {
    if (hasExited)
      throw new Error(`dnsmasq on ${server} exited before it answered; its log: ${lastLog()}`);
    try {
      await resolver.resolve4(probeName);
      return;
    } catch (error) {
      lastError = (error as NodeJS.ErrnoException).code ?? String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `dnsmasq on ${server} did not answer ${probeName} within ${READY_TIMEOUT_MS} ms (last: ${lastError}); its log: ${lastLog()}`,
  );
}

/** A port that is free on 127.0.0.1 for TCP and UDP alike (DNS needs both). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() =>
          resolve(typeof address === "object" && address !== null ? address.port : 0),
        );
      });
    });
    const isUdpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket("udp4");
      socket.once("error", () => resolve(false));
      socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
    });
    if (isUdpFree) return port;
  }
}
