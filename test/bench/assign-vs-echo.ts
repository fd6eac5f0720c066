// The RPC path against the reference a user without a framework would pick:
// a bare @grpc/grpc-js server (bare-echo.ts). At 1, 16, 64 and 256 calls in
// flight, in one run: the bare server, the same answer through libs/rpc, and
// Assign through the whole mesh, each with its ratio to the bare server; then
// Assign's latency at half of its peak rate, and its cost with tracing on.
import { startService, stopAll, type ServiceProcess } from "../support/service-process.js";
import { ASSIGN_MESH_TEXT, assignRequestFrame, startAssignMesh } from "./assign-mesh.js";
import type { OtlpProtocol } from "../../libs/telemetry/index.js";
import { startOtlpReceiver } from "../support/otlp-receiver.js";
import { httpGet } from "../support/http-status.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDevelopmentCertificates } from "../../libs/rpc/dev-certificates.js";
import { useTls } from "../../libs/rpc/index.js";
import { h2loadAvailable, runH2load, type LoadResult } from "./h2load.js";

const WARM_UP_SEC = 1;

type Say = (text: string) => void;

async function grpcCodes(httpPort: number, method: string): Promise<Record<string, number>> {
  const text = (await httpGet(httpPort, "/metrics")).body;
  const codes: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (
      !line.startsWith("scalemesh_rpc_server_handled_total{") ||
      !line.includes(`method="${method}"`)
    )
      continue;
    const code = /code="([A-Za-z]+)"/.exec(line)?.[1] ?? "?";
    codes[code] = (codes[code] ?? 0) + Number(line.split(" ").at(-1));
  }
  return codes;
}

/**
 * Non-OK statuses a run left. h2load ends a timed run by resetting the
 * streams still open, which the server counts as Canceled: up to `inFlight`
 * of those are the end of the run, not failures.
 */
function errorsSince(
  before: Record<string, number>,
  after: Record<string, number>,
  inFlight: number,
): string {
  const errors = Object.entries(after)
    .filter(([code]) => code !== "OK")
    .map(([code, n]) => [code, n - (before[code] ?? 0)] as const)
    .filter(([code, n]) => n > 0 && !(code === "Canceled" && n <= inFlight));
  return errors.length === 0 ? "" : errors.map(([code, n]) => `${code}=${n}`).join(" ");
}

async function measure(
  label: string,
  service: ServiceProcess,
  url: string,
  body: Buffer,
  inFlight: number,
  durationSec: number,
): Promise<LoadResult & { errors: string }> {
  // The bare server keeps no counters (it has nothing but the one method, which cannot fail).
  const codes = async (): Promise<Record<string, number>> =>
    service.httpPort === 0 ? {} : grpcCodes(service.httpPort, "Assign");
  const before = await codes();
  process.stderr.write(`  ${label}: ${inFlight} in flight for ${durationSec} s...\n`);
  const result = await runH2load({ url, body, inFlight, durationSec, warmUpSec: WARM_UP_SEC });
  const after = await codes();
  return { ...result, errors: errorsSince(before, after, inFlight) };
}

function row(cells: readonly string[]): string {
  const widths = [9, 10, 8, 8, 10, 8, 7, 12, 8, 8, 7];
  return cells.map((c, i) => c.padStart(widths[i] ?? 10)).join(" ");
}

const ratio = (of: LoadResult, to: LoadResult): string =>
  `${(of.throughputPerSec / to.throughputPerSec).toFixed(2)}x`;

type Measured = LoadResult & { errors: string };

/** Returns 2 when h2load is missing (nothing measured), else 0. */
export async function benchAssign(
  say: Say,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const levels = (env.SCALEMESH_BENCH_LEVELS ?? "1,16,64,256").split(",").map(Number);
  const durationSec = Number(env.SCALEMESH_BENCH_SECONDS ?? 5);
  if (!h2loadAvailable()) {
    process.stderr.write("npm run bench needs h2load: apt-get install -y nghttp2-client\n");
    return 2;
  }
  const body = assignRequestFrame();
  say("scalemesh bench: the RPC path against a bare @grpc/grpc-js server, same h2load, same run");
  say(
    `load: h2load, ${durationSec} s per level after ${WARM_UP_SEC} s warm-up; machine: ${(await import("node:os")).cpus().length} cores (h2load shares them)`,
  );
  say(
    "  bare   = Balancer/Assign on grpc-js alone, hand-written codec, nothing else (the reference)",
  );
  say(
    "  echo   = the same answer through libs/rpc: protobuf-es codec, reflection, health, deadlines,",
  );
  say("           cancellation, error mapping, metrics (tracing off)");
  say("  assign = Balancer/Assign through the mesh: balancer -> coordinator -> durable ledger");
  say(`           (synchronous full) -> the worker's stream; ${ASSIGN_MESH_TEXT}`);

  // Each server is measured alone on the machine: the bare server and the
  // echo first (alternating per level), then the mesh.
  process.stderr.write("starting the bare baseline and the libs/rpc echo...\n");
  const url = (service: ServiceProcess): string =>
    `http://127.0.0.1:${service.grpcPort}/scalemesh.v1.Balancer/Assign`;
  const baselines: { bare: Measured; echo: Measured }[] = [];
  const bare = await startService("bench-bare", { readyMessage: "bare listening" });
  const echo = await startEcho();
  try {
    for (const level of levels) {
      baselines.push({
        bare: await measure("bare", bare, url(bare), body, level, durationSec),
        echo: await measure("echo", echo, url(echo), body, level, durationSec),
      });
    }
  } finally {
    await echo.stop();
    await bare.stop();
  }
  process.stderr.write(`starting a mesh (${ASSIGN_MESH_TEXT})...\n`);
  const mesh = await startAssignMesh();
  const results: { level: number; bare: Measured; echo: Measured; assign: Measured }[] = [];
  try {
    for (const [i, level] of levels.entries()) {
      const assign = await measure(
        "assign",
        mesh.balancer,
        url(mesh.balancer),
        body,
        level,
        durationSec,
      );
      const baseline = baselines[i];
      if (baseline) results.push({ level, ...baseline, assign });
    }
  } finally {
    await mesh.stop();
    await stopAll();
  }
  say("");
  say(
    row([
      "in flight",
      "bare req/s",
      "p50 ms",
      "p99 ms",
      "echo req/s",
      "p99 ms",
      "ratio",
      "assign req/s",
      "p50 ms",
      "p99 ms",
      "ratio",
    ]),
  );
  for (const r of results) {
    say(
      row([
        String(r.level),
        r.bare.throughputPerSec.toFixed(0),
        r.bare.p50Ms.toFixed(2),
        r.bare.p99Ms.toFixed(2),
        r.echo.throughputPerSec.toFixed(0),
        r.echo.p99Ms.toFixed(2),
        ratio(r.echo, r.bare),
        r.assign.throughputPerSec.toFixed(0),
        r.assign.p50Ms.toFixed(2),
        r.assign.p99Ms.toFixed(2),
        ratio(r.assign, r.bare),
      ]),
    );
  }
  say("ratio = throughput / the bare server's throughput at the same number of calls in flight");
  const failures = results
    .flatMap((r) => [
      r.echo.errors && `echo@${r.level}: ${r.echo.errors}`,
      r.assign.errors && `assign@${r.level}: ${r.assign.errors}`,
    ])
    .filter(Boolean);
  say(
    failures.length === 0
      ? "every echo and assign call answered grpc-status OK (from the servers' own counters; the calls h2load resets when its time is up count as Canceled and are left out)"
      : `non-OK gRPC statuses: ${failures.join("; ")}`,
  );

  const atLevel = results.find((r) => r.level === TRACED_LEVEL)?.assign;
  if (atLevel) await benchHalfPeak(say, body, atLevel, durationSec);
  await benchTracing(say, body, durationSec);
  await benchTls(say, body, durationSec);
  return 0;
}

const TRACED_LEVEL = 64;

/**
 * Latency at half of the peak rate: h2load paced to a fixed request rate
 * (not a closed loop, where latency only measures the queue it builds).
 */
async function benchHalfPeak(
  say: Say,
  body: Buffer,
  peak: LoadResult,
  durationSec: number,
): Promise<void> {
  const rate = Math.max(1, Math.floor(peak.throughputPerSec / 2));
  process.stderr.write(`restarting the mesh for assign at ${rate} req/s (half of its peak)...\n`);
  const mesh = await startAssignMesh();
  try {
    const paced = await runH2load({
      url: `http://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
      body,
      inFlight: TRACED_LEVEL,
      durationSec,
      warmUpSec: WARM_UP_SEC,
      ratePerSec: rate,
    });
    say("");
    say(
      `assign at half of its peak (${rate} req/s offered, ${paced.throughputPerSec.toFixed(0)} served): p50 ${paced.p50Ms.toFixed(2)} ms, p99 ${paced.p99Ms.toFixed(2)} ms`,
    );
  } finally {
    await mesh.stop();
  }
}

/**
 * Assign with tracing off, at 10 % sampling and at 100 %, each on a fresh
 * mesh measured the same way (spans exported over OTLP/HTTP to a local
 * receiver, in protobuf as shipped, and once in JSON at 10 %).
 */
async function benchTracing(say: Say, body: Buffer, durationSec: number): Promise<void> {
  say("");
  say(`tracing, assign at ${TRACED_LEVEL} in flight, each on a fresh mesh:`);
  const off = await tracedAssign(body, durationSec, undefined);
  say(
    `  ${"off (no endpoint: the SDK is not loaded)".padEnd(42)} ${off.throughputPerSec.toFixed(0)} req/s, p99 ${off.p99Ms.toFixed(2)} ms`,
  );
  const runs: { sampleRatio: number; protocol: OtlpProtocol }[] = [
    { sampleRatio: 0.1, protocol: "http/protobuf" },
    { sampleRatio: 1, protocol: "http/protobuf" },
    { sampleRatio: 0.1, protocol: "http/json" },
  ];
  for (const { sampleRatio, protocol } of runs) {
    const traced = await tracedAssign(body, durationSec, sampleRatio, protocol);
    say(
      `  ${`sampling ${sampleRatio * 100} %, exported over OTLP ${protocol}`.padEnd(42)} ${traced.throughputPerSec.toFixed(0)} req/s, p99 ${traced.p99Ms.toFixed(2)} ms; ${ratio(traced, off)} of off${traced.errors ? `; non-OK: ${traced.errors}` : ""}`,
    );
  }
  say("  goal: 10 % sampling costs <= 10 % of Assign throughput (>= 0.90x of off)");
}

/**
 * Assign in plaintext and with mutual TLS between every service, each on a
 * fresh mesh at the same load. h2load cannot present a client certificate,
 * so the balancer's own port takes TLS without one; every hop behind it
 * (balancer, coordinator, workers) is mutual TLS with certificates made the
 * way `scalemesh certs init` makes them.
 */
async function benchTls(say: Say, body: Buffer, durationSec: number): Promise<void> {
  process.stderr.write("restarting the mesh in plaintext...\n");
  const plain = await meshAssign(body, durationSec, {}, {});
  const dir = mkdtempSync(join(tmpdir(), "scalemesh-bench-certs-"));
  try {
    const made = await makeDevelopmentCertificates();
    writeFileSync(join(dir, "ca.pem"), made.ca.certificatePem);
    for (const [name, pair] of Object.entries(made.services)) {
      writeFileSync(join(dir, `${name}.pem`), pair.certificatePem);
      writeFileSync(join(dir, `${name}-key.pem`), pair.privateKeyPem);
    }
    useTls({
      certFile: join(dir, "cli.pem"),
      keyFile: join(dir, "cli-key.pem"),
      caFile: join(dir, "ca.pem"),
      requireClientCert: true,
      serverName: "",
      reloadIntervalMs: 10_000,
    });
    process.stderr.write("restarting the mesh with mutual TLS...\n");
    const tls = await meshAssign(
      body,
      durationSec,
      {
        SCALEMESH_TLS_CA_FILE: join(dir, "ca.pem"),
        SCALEMESH_TLS_CERT_FILE: join(dir, "{service}.pem"),
        SCALEMESH_TLS_KEY_FILE: join(dir, "{service}-key.pem"),
      },
      { SCALEMESH_TLS_REQUIRE_CLIENT_CERT: "false" },
      "https",
    );
    say("");
    say(`mutual TLS, assign at ${TRACED_LEVEL} in flight, each on a fresh mesh:`);
    say(
      `  ${"plaintext".padEnd(42)} ${plain.throughputPerSec.toFixed(0)} req/s, p99 ${plain.p99Ms.toFixed(2)} ms`,
    );
    say(
      `  ${"TLS 1.3, mutual between services".padEnd(42)} ${tls.throughputPerSec.toFixed(0)} req/s, p99 ${tls.p99Ms.toFixed(2)} ms; ${ratio(tls, plain)} of plaintext${tls.errors ? `; non-OK: ${tls.errors}` : ""}`,
    );
  } finally {
    useTls(undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function meshAssign(
  body: Buffer,
  durationSec: number,
  env: Record<string, string>,
  balancerEnv: Record<string, string>,
  scheme: "http" | "https" = "http",
): Promise<Measured> {
  const mesh = await startAssignMesh(env, balancerEnv);
  try {
    return await measure(
      "assign",
      mesh.balancer,
      `${scheme}://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
      body,
      TRACED_LEVEL,
      durationSec,
    );
  } finally {
    await mesh.stop();
  }
}

/** The Assign path again with tracing on: the cost of spans, measured, not guessed. */
async function tracedAssign(
  body: Buffer,
  durationSec: number,
  sampleRatio: number | undefined,
  protocol?: OtlpProtocol,
): Promise<Measured> {
  process.stderr.write(
    `restarting the mesh with tracing ${sampleRatio === undefined ? "off" : `on, sampling ${sampleRatio}`}...\n`,
  );
  const receiver = await startOtlpReceiver();
  const mesh = await startAssignMesh(
    sampleRatio === undefined
      ? {}
      : {
          SCALEMESH_TELEMETRY_TRACE_SAMPLE_RATIO: String(sampleRatio),
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol ?? "http/protobuf",
        },
  );
  try {
    return await measure(
      "assign, traced",
      mesh.balancer,
      `http://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
      body,
      TRACED_LEVEL,
      durationSec,
    );
  } finally {
    await mesh.stop();
    await receiver.close();
  }
}

function startEcho(): Promise<ServiceProcess> {
  return startService("bench-echo", { readyMessage: "echo listening" });
}
