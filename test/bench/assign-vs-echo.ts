// The Assign path against a bare echo server on the same stack, at 1, 16, 64
// and 256 calls in flight, in one run; prints throughput, p50 and p99 for
// both and the ratio, then the same Assign load with tracing on.
import { create, toBinary } from "@bufbuild/protobuf";
import { AssignRequestSchema } from "../../libs/contracts/index.js";
import { startService, stopAll, type ServiceProcess } from "../support/service-process.js";
import { exampleHandler, startMesh } from "../support/mesh.js";
import { startOtlpReceiver } from "../support/otlp-receiver.js";
import { grpcFrame, h2loadAvailable, runH2load, type LoadResult } from "./h2load.js";

const WARM_UP_SEC = 1;

type Say = (text: string) => void;

async function grpcCodes(httpPort: number, method: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
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
  const before = await grpcCodes(service.httpPort, "Assign");
  process.stderr.write(`  ${label}: ${inFlight} in flight for ${durationSec} s...\n`);
  const result = await runH2load({ url, body, inFlight, durationSec, warmUpSec: WARM_UP_SEC });
  const after = await grpcCodes(service.httpPort, "Assign");
  return { ...result, errors: errorsSince(before, after, inFlight) };
}

function row(cells: readonly string[]): string {
  const widths = [9, 12, 9, 9, 12, 9, 9, 12];
  return cells.map((c, i) => c.padStart(widths[i] ?? 10)).join(" ");
}

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
  const body = grpcFrame(
    toBinary(
      AssignRequestSchema,
      create(AssignRequestSchema, {
        task: { payload: new TextEncoder().encode("bench payload 32 bytes long....") },
      }),
    ),
  );
  say(
    `scalemesh bench: Assign through the whole path vs a bare echo server on the same libs/rpc stack`,
  );
  say(
    `load: h2load, ${durationSec} s per level after ${WARM_UP_SEC} s warm-up; machine: ${(await import("node:os")).cpus().length} cores`,
  );

  process.stderr.write(
    "starting the echo baseline and a mesh (2 no-op workers, 128 slots each)...\n",
  );
  const echo = await startEcho();
  const mesh = await startMesh({
    workers: 2,
    slots: 128,
    handler: exampleHandler("noop"),
    env: { SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "1000000" },
  });
  const results: {
    level: number;
    echo: LoadResult & { errors: string };
    assign: LoadResult & { errors: string };
  }[] = [];
  try {
    for (const level of levels) {
      const echoResult = await measure(
        "echo",
        echo,
        `http://127.0.0.1:${echo.grpcPort}/scalemesh.v1.Balancer/Assign`,
        body,
        level,
        durationSec,
      );
      const assignResult = await measure(
        "assign",
        mesh.balancer,
        `http://127.0.0.1:${mesh.balancer.grpcPort}/scalemesh.v1.Balancer/Assign`,
        body,
        level,
        durationSec,
      );
      results.push({ level, echo: echoResult, assign: assignResult });
    }
  } finally {
    await mesh.stop();
    await echo.stop();
    await stopAll();
  }
  say("");
  say(
    row([
      "in flight",
      "echo req/s",
      "p50 ms",
      "p99 ms",
      "assign req/s",
      "p50 ms",
      "p99 ms",
      "ratio",
    ]),
  );
  for (const r of results) {
    say(
      row([
        String(r.echo.inFlight),
        r.echo.throughputPerSec.toFixed(0),
        r.echo.p50Ms.toFixed(2),
        r.echo.p99Ms.toFixed(2),
        r.assign.throughputPerSec.toFixed(0),
        r.assign.p50Ms.toFixed(2),
        r.assign.p99Ms.toFixed(2),
        `${(r.assign.throughputPerSec / r.echo.throughputPerSec).toFixed(2)}x`,
      ]),
    );
  }
  const failures = results
    .flatMap((r) => [
      r.echo.errors && `echo@${r.level}: ${r.echo.errors}`,
      r.assign.errors && `assign@${r.level}: ${r.assign.errors}`,
    ])
    .filter(Boolean);
  say("");
  const traced = await tracedAssign(body, durationSec);
  say(
    `tracing on (every span exported over OTLP/HTTP to a local receiver), ${TRACED_LEVEL} in flight:`,
  );
  const plain = results.find((r) => r.level === TRACED_LEVEL)?.assign;
  say(
    `  assign ${traced.throughputPerSec.toFixed(0)} req/s, p50 ${traced.p50Ms.toFixed(2)} ms, p99 ${traced.p99Ms.toFixed(2)} ms${plain ? `; ${(traced.throughputPerSec / plain.throughputPerSec).toFixed(2)}x of the same level with tracing off` : ""}${traced.errors ? `; non-OK: ${traced.errors}` : ""}`,
  );
  say("");
  say(
    failures.length === 0
      ? "every call answered grpc-status OK (checked from the servers' own counters; the calls h2load resets when its time is up count as Canceled and are left out)"
      : `non-OK gRPC statuses: ${failures.join("; ")}`,
  );
  say("ratio = assign throughput / echo throughput at the same number of calls in flight");
  return 0;
}

const TRACED_LEVEL = 64;

/** The Assign path again with tracing on: the cost of spans, measured, not guessed. */
async function tracedAssign(
  body: Buffer,
  durationSec: number,
): Promise<LoadResult & { errors: string }> {
  process.stderr.write("restarting the mesh with tracing on...\n");
  const receiver = await startOtlpReceiver();
  const mesh = await startMesh({
    workers: 2,
    slots: 128,
    handler: exampleHandler("noop"),
    env: {
      SCALEMESH_COORDINATOR_MAX_PENDING_TASKS: "1000000",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    },
  });
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
