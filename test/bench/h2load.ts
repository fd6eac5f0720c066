// Drives a gRPC unary method with h2load (nghttp2-client) and a pre-encoded
// request, so the load generator is never the bottleneck (one Node client
// process tops out near 6,000 calls/s here). Latencies come from h2load's
// per-request log; gRPC status is checked by the caller from the server's
// own counters, since gRPC errors arrive inside HTTP 200.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  readonly inFlight: number;
  readonly requests: number;
  readonly throughputPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly http2xx: number;
}

export function h2loadAvailable(): boolean {
  return spawnSync("h2load", ["--version"], { encoding: "utf8" }).status === 0;
}

/** A gRPC length-prefixed frame around one message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

export async function runH2load(options: {
  url: string;
  body: Buffer;
  inFlight: number;
  durationSec: number;
  warmUpSec: number;
  /** Paced load: requests per second over all connections (h2load --rps is per connection). */
  ratePerSec?: number;
}): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "scalemesh-bench-"));
  const bodyPath = join(dir, "request.bin");
  const logPath = join(dir, "requests.log");
  writeFileSync(bodyPath, options.body);
  // in flight = connections x concurrent streams per connection
  const connections = Math.min(options.inFlight, 16);
  const streams = Math.max(1, Math.round(options.inFlight / connections));
  const args = [
    "-c",
    String(connections),
    "-m",
    String(streams),
    "-t",
    "1",
    "-D",
    String(options.durationSec),
    `--warm-up-time=${options.warmUpSec}`,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    "-d",
    bodyPath,
    `--log-file=${logPath}`,
    ...(options.ratePerSec
      ? [`--rps=${Math.max(1, Math.round(options.ratePerSec / connections))}`]
      : []),
    options.url,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("exit", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`h2load exited ${code}: ${text.slice(-500)}`)),
    );
  });
  const latenciesUs = readFileSync(logPath, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => Number(line.split("\t")[2]))
    .filter((us) => Number.isFinite(us))
    .sort((a, b) => a - b);
  const quantile = (q: number): number =>
    latenciesUs.length === 0
      ? Number.NaN
      : (latenciesUs[
          Math.min(latenciesUs.length - 1, Math.floor(q * latenciesUs.length))
        ] as number) / 1000;
  const status2xx = Number(/status codes: (\d+) 2xx/.exec(output)?.[1] ?? 0);
  return {
    inFlight: connections * streams,
    requests: latenciesUs.length,
    throughputPerSec: latenciesUs.length / options.durationSec,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    http2xx: status2xx,
  };
}
