// Runs a real Prometheus (Debian's prometheus package; CI installs it with
// apt) on a free 127.0.0.1 port with a generated configuration and a
// temporary data dir, and asks it questions over its HTTP API. start waits
// until /-/ready answers 200 (not a sleep); stop ends it and removes the dir.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { freePort } from "./etcd-server.js";

/** The binaries to run; SCALEMESH_PROMETHEUS_BIN and SCALEMESH_PROMTOOL_BIN override the ones on PATH. */
export const PROMETHEUS_BIN = process.env.SCALEMESH_PROMETHEUS_BIN ?? "prometheus";
export const PROMTOOL_BIN = process.env.SCALEMESH_PROMTOOL_BIN ?? "promtool";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ScrapeTarget {
  /** host:port of an HTTP /metrics endpoint. */
  readonly address: string;
  /** Extra labels on every series scraped from it. */
  readonly labels?: Record<string, string>;
}

export interface PrometheusOptions {
  readonly targets: readonly ScrapeTarget[];
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: readonly string[];
  readonly scrapeIntervalSec?: number;
}

/** One sample of an instant vector: its labels and its value. */
export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface ApiAnswer {
  readonly status: "success" | "error";
  readonly data?: unknown;
  readonly errorType?: string;
  readonly error?: string;
}

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** GET /api/v1/<path> with these query parameters, its JSON as it came. */
  api(path: string, params?: Record<string, string>): Promise<ApiAnswer>;
  /** An instant query; throws with Prometheus' own words when it refuses the expression. */
  query(expression: string): Promise<VectorSample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "scalemesh-prometheus-"));
  const intervalSec = options.scrapeIntervalSec ?? 1;
  const configPath = join(dir, "prometheus.yml");
  await writeFile(
    configPath,
    stringify({
      global: { scrape_interval: `${intervalSec}s`, evaluation_interval: `${intervalSec}s` },
      rule_files: options.ruleFiles ?? [],
      // One job, as deploy/prometheus/prometheus.yml has it: the alerts aggregate by job.
      scrape_configs: [
        {
          job_name: "scalemesh",
          static_configs: options.targets.map((target) => ({
            targets: [target.address],
            labels: target.labels ?? {},
          })),
        },
      ],
    }),
  );
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer): void => void output.push(...chunk.toString().split("\n"));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      exitReason =
        error.code === "ENOENT"
          ? `the prometheus binary "${PROMETHEUS_BIN}" was not found; install it (apt-get install prometheus) or set SCALEMESH_PROMETHEUS_BIN`
          : `prometheus failed to start: ${error.message}`;
      resolve();
    });
    child.once("exit", (code, signal) => {
      exitReason ??= `prometheus exited (${code ?? signal}): ${output.slice(-8).join(" | ")}`;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const api = async (path: string, params: Record<string, string> = {}): Promise<ApiAnswer> => {
    const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    return (await response.json()) as ApiAnswer;
  };

  const server: PrometheusServer = {
    url,
    api,
    async query(expression) {
      const answer = await api("query", { query: expression });
      if (answer.status !== "success")
        throw new Error(`Prometheus refused ${expression}: ${answer.errorType}: ${answer.error}`);
      const data = answer.data as {
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
      if (data.resultType !== "vector") return [];
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop,
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitReason !== undefined) {
      await stop();
      throw new Error(exitReason);
    }
    const isReady = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (isReady) return server;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `prometheus on ${url} not ready within ${READY_TIMEOUT_MS} ms: ${output.slice(-8).join(" | ")}`,
      );
    }
    await sleep(100);
  }
}
