// What a user with buf curl (Go protobuf, as strict as grpcurl) gets on every
// gRPC port with no proto files: each call below resolves its schema through
// server reflection alone, so a descriptor Go rejects (a map entry not named
// as protoc names it, an unresolvable import) fails the call and the test.
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../libs/telemetry/version.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { stopAll } from "../support/service-process.js";

const BUF = join(projectRoot(), "node_modules", ".bin", "buf");
const CALL_TIMEOUT_MS = 20_000;

type Json = Record<string, unknown>;
type ReflectProtocol = "grpc-v1" | "grpc-v1alpha";

function curlArgs(
  port: number,
  method: string,
  body: Json,
  reflectProtocol: ReflectProtocol,
): string[] {
  return [
    "curl",
    "--protocol",
    "grpc",
    "--http2-prior-knowledge",
    "--reflect",
    "--reflect-protocol",
    reflectProtocol,
    "-d",
    JSON.stringify(body),
    `http://127.0.0.1:${port}/${method}`,
  ];
}

/** One unary call; resolves with the decoded JSON buf curl prints. */
async function bufCurl(
  port: number,
  method: string,
  body: Json = {},
  reflectProtocol: ReflectProtocol = "grpc-v1",
): Promise<Json> {
  try {
    const { stdout } = await promisify(execFile)(
      BUF,
      curlArgs(port, method, body, reflectProtocol),
      { timeout: CALL_TIMEOUT_MS },
    );
    return JSON.parse(stdout) as Json;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`buf curl ${method} on port ${port} failed: ${stderr ?? String(error)}`);
  }
}

/**
 * The first message of a server stream that does not end by itself (health
 * Watch, WatchCluster): read one JSON document, then stop buf curl.
 */
function bufCurlFirstMessage(port: number, method: string, body: Json = {}): Promise<Json> {
  const child = spawn(BUF, curlArgs(port, method, body, "grpc-v1"), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = new Promise<Json>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `no message from ${method} on port ${port} within ${CALL_TIMEOUT_MS} ms; stderr: ${stderr}`,
          ),
        ),
      CALL_TIMEOUT_MS,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      // buf curl prints each message as indented JSON whose closing brace
      // is the only character on its line.
      const end = stdout.search(/^}$/m);
      if (end < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.slice(0, end + 1)) as Json);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(
        new Error(
          `buf curl ${method} on port ${port} ended before its first message (exit ${child.exitCode}): ${stderr}`,
        ),
      );
    });
  });
  return first.finally(async () => {
    child.kill("SIGTERM");
    await exited;
  });
}

interface MethodCall {
  readonly method: string;
  readonly body: Json;
  readonly isStream?: boolean;
  readonly check: (response: Json) => void;
}

interface Port {
  readonly name: string;
  readonly port: () => number;
  readonly services: readonly string[];
  /** At least one method of each scalemesh service on the port, read-only. */
  readonly calls: readonly MethodCall[];
}

let mesh: Mesh;

const workerIds = (workers: unknown): unknown[] =>
  (workers as { spec?: { workerId?: string } }[]).map((w) => w.spec?.workerId);

const PORTS: readonly Port[] = [
  {
    name: "coordinator",
    port: () => mesh.coordinator.grpcPort,
    services: ["scalemesh.v1.Coordinator", "scalemesh.v1.Admin", "scalemesh.v1.Leases"],
    calls: [
      {
        method: "scalemesh.v1.Coordinator/WatchCluster",
        body: {},
        isStream: true,
        check: (response) =>
          expect(workerIds((response.snapshot as Json).workers)).toEqual(["worker-1"]),
      },
      {
        method: "scalemesh.v1.Admin/GetClusterStatus",
        body: {},
        check: (response) => {
          expect(response.workersAlive).toBe(1);
          expect(typeof response.version).toBe("string");
          expect(typeof response.startedAt).toBe("string");
        },
      },
      {
        method: "scalemesh.v1.Admin/ListWorkers",
        body: {},
        check: (response) => expect(workerIds(response.workers)).toEqual(["worker-1"]),
      },
      {
        method: "scalemesh.v1.Leases/AcquireLease",
        body: { name: "buf-curl-job", holder: "buf", ttl: "30s" },
        check: (response) => {
          expect(response.acquired).toBe(true);
          expect(response.fencingToken).toBe("1");
          expect(response.holder).toBe("buf");
          expect(typeof response.expiresAt).toBe("string");
        },
      },
      {
        // A bidi stream: one batch of one item, answered by its sequence (this one places a task).
        method: "scalemesh.v1.Coordinator/PlaceStream",
        body: { items: [{ sequence: "7", request: { task: { taskId: "buf-curl-place" } } }] },
        isStream: true,
        check: (response) => {
          const [outcome] = response.outcomes as Json[];
          expect(outcome?.sequence).toBe("7");
          expect(((outcome?.placed as Json).task as Json).state).toBe("TASK_STATE_ASSIGNED");
        },
      },
    ],
  },
  {
    name: "balancer",
    port: () => mesh.balancer.grpcPort,
    services: ["scalemesh.v1.Balancer"],
    calls: [
      {
        method: "scalemesh.v1.Balancer/Route",
        body: { routingKey: "buf-curl" },
        check: (response) => {
          expect(response.workerId).toBe("worker-1");
          expect(typeof response.strategy).toBe("string");
        },
      },
    ],
  },
  {
    name: "optimizer",
    port: () => mesh.optimizer?.grpcPort ?? 0,
    services: ["scalemesh.v1.Optimizer"],
    calls: [
      {
        method: "scalemesh.v1.Optimizer/GetRecommendation",
        body: {},
        check: (response) => {
          const recommendation = response.recommendation as Json;
          expect(typeof recommendation.desiredWorkers).toBe("number");
          expect(typeof recommendation.reason).toBe("string");
        },
      },
    ],
  },
];

beforeAll(async () => {
  mesh = await startMesh({ workers: 1, withOptimizer: true });
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
  await stopAll();
});

describe.each(PORTS)("buf curl on the $name gRPC port", ({ port, services, calls }) => {
  it.each(["grpc-v1", "grpc-v1alpha"] as const)(
    "calls grpc.health.v1.Health/Check through reflection %s: SERVING",
    async (protocol) => {
      expect(await bufCurl(port(), "grpc.health.v1.Health/Check", {}, protocol)).toEqual({
        status: "SERVING",
      });
    },
  );

  it("answers Check SERVING for each of its services by name", async () => {
    for (const service of services) {
      expect(await bufCurl(port(), "grpc.health.v1.Health/Check", { service }), service).toEqual({
        status: "SERVING",
      });
    }
  });

  it("decodes grpc.health.v1.Health/List, whose statuses field is a map", async () => {
    const response = await bufCurl(port(), "grpc.health.v1.Health/List");
    const statuses = Object.fromEntries(
      ["", ...services].map((service) => [service, { status: "SERVING" }]),
    );
    expect(response).toEqual({ statuses });
  });

  it("reads the first message of the grpc.health.v1.Health/Watch stream: SERVING", async () => {
    expect(await bufCurlFirstMessage(port(), "grpc.health.v1.Health/Watch")).toEqual({
      status: "SERVING",
    });
  });

  it.each(calls)(
    "calls $method through reflection alone",
    async ({ method, body, isStream, check }) => {
      check(
        isStream
          ? await bufCurlFirstMessage(port(), method, body)
          : await bufCurl(port(), method, body),
      );
    },
  );

  it("covers every scalemesh service on the port", () => {
    expect(new Set(calls.map((call) => call.method.split("/")[0]))).toEqual(new Set(services));
  });
});
