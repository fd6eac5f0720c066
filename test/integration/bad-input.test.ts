// Bad input gets the documented status (or exit code 2 for configuration)
// and never takes a service down.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, toConnectError } from "../../libs/rpc/index.js";
import { TaskState } from "../../libs/contracts/index.js";
import { serviceEntry, stopAll } from "../support/service-process.js";
import { startMesh, type Mesh } from "../support/mesh.js";

let mesh: Mesh;

beforeAll(async () => {
  mesh = await startMesh({
    workers: 1,
    slots: 2,
    env: { SCALEMESH_RPC_MAX_PAYLOAD_BYTES: "1024" },
    workerArgs: ["--capability", "cpu"],
  });
}, 60_000);

afterAll(async () => {
  await mesh.stop();
  await stopAll();
});

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return toConnectError(error);
  }
  throw new Error("expected the call to be refused");
}

describe("refusals", () => {
  const cases: { name: string; call: () => Promise<unknown>; code: Code; message: RegExp }[] = [
    {
      name: "a payload over the limit is INVALID_ARGUMENT naming task.payload and the limit",
      call: () => mesh.balancerClient.assign({ task: { payload: new Uint8Array(2000) } }),
      code: Code.InvalidArgument,
      message: /task\.payload: 2000 bytes is over the limit of 1024 bytes/,
    },
    {
      name: "a request without a task is INVALID_ARGUMENT naming task",
      call: () => mesh.balancerClient.assign({}),
      code: Code.InvalidArgument,
      message: /^task: is required/,
    },
    {
      name: "an unknown strategy is INVALID_ARGUMENT listing the known ones",
      call: () => mesh.balancerClient.assign({ task: {}, strategy: "fastest" }),
      code: Code.InvalidArgument,
      message:
        /strategy: "fastest" is not one of round_robin, random, least_loaded, least_connections, .*consistent_hash, maglev/,
    },
    {
      name: "a capability no worker offers is UNAVAILABLE naming it",
      call: () => mesh.balancerClient.assign({ task: { requiredCapabilities: ["gpu"] } }),
      code: Code.Unavailable,
      message: /no registered worker offers every required capability \[gpu\]/,
    },
    {
      name: "Place for an unknown worker is NOT_FOUND",
      call: () => mesh.coordinatorClient.place({ task: { taskId: "p1" }, workerId: "ghost" }),
      code: Code.NotFound,
      message: /worker ghost is not registered/,
    },
    {
      name: "the same task id with other content is ALREADY_EXISTS",
      call: async () => {
        await mesh.balancerClient.assign({
          task: { taskId: "dup", payload: new TextEncoder().encode("a") },
        });
        return mesh.balancerClient.assign({
          task: { taskId: "dup", payload: new TextEncoder().encode("b") },
        });
      },
      code: Code.AlreadyExists,
      message: /task dup exists with different content/,
    },
    {
      name: "AwaitTask for an unknown task is NOT_FOUND",
      call: () => mesh.balancerClient.awaitTask({ taskId: "never-assigned" }),
      code: Code.NotFound,
      message: /task never-assigned does not exist/,
    },
    {
      name: "a bad task id is INVALID_ARGUMENT naming task.task_id",
      call: () => mesh.balancerClient.assign({ task: { taskId: "has spaces" } }),
      code: Code.InvalidArgument,
      message: /task\.task_id/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const error = await refusal(c.call());
      expect(Code[error.code]).toBe(Code[c.code]);
      expect(error.rawMessage).toMatch(c.message);
    });
  }

  it("AwaitTask past its deadline is DEADLINE_EXCEEDED", async () => {
    const { taskId } = await mesh.balancerClient.assign({
      task: { taskId: "slow", payload: new TextEncoder().encode("x") },
    });
    // The echo handler finishes fast; a deadline of 1 ms cannot be met over the network.
    const error = await refusal(mesh.balancerClient.awaitTask({ taskId }, { timeoutMs: 1 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
  });

  it("keeps every service up and serving after all of that", async () => {
    const response = await mesh.balancerClient.assign({
      task: { payload: new TextEncoder().encode("still here") },
    });
    const done = await mesh.balancerClient.awaitTask(
      { taskId: response.taskId },
      { timeoutMs: 10_000 },
    );
    expect(done.task?.state).toBe(TaskState.SUCCEEDED);
    for (const service of [mesh.coordinator, mesh.balancer, ...mesh.workers])
      expect(service.child.exitCode).toBeNull();
  });

  it("answers Admin over the Connect protocol with JSON on the HTTP port", async () => {
    const response = await fetch(
      `http://127.0.0.1:${mesh.coordinator.httpPort}/scalemesh.v1.Admin/GetClusterStatus`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { workersAlive?: number; totalSlots?: number };
    expect(body.workersAlive).toBe(1);
    expect(body.totalSlots).toBe(2);
    const missing = await fetch(
      `http://127.0.0.1:${mesh.coordinator.httpPort}/scalemesh.v1.Admin/GetTask`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ taskId: "nope" }),
      },
    );
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe("not_found");
  });
});

describe("Assign with no workers", () => {
  it("is UNAVAILABLE and says to start a worker", async () => {
    const empty = await startMesh({ workers: 0 });
    try {
      const error = await refusal(
        empty.balancerClient.assign({ task: { payload: new TextEncoder().encode("x") } }),
      );
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toMatch(/no workers are registered; start a worker agent/);
    } finally {
      await empty.stop();
    }
  }, 30_000);
});

describe("garbage configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "scalemesh-config-"));
  const garbageFile = join(dir, "scalemesh.yaml");
  writeFileSync(garbageFile, "scaling:\n  min_workers: [unclosed\n");
  const cases: { name: string; env: Record<string, string>; args?: string[]; stderr: RegExp }[] = [
    {
      name: "a negative worker count in the environment",
      env: { SCALEMESH_SCALING_MIN_WORKERS: "-1" },
      stderr: /scaling\.min_workers.*"-1".*SCALEMESH_SCALING_MIN_WORKERS/,
    },
    {
      name: "an unknown strategy flag value",
      env: {},
      args: ["--balancer.strategy=fastest"],
      stderr: /balancer\.strategy.*fastest.*round_robin/,
    },
    {
      name: "a YAML file that does not parse",
      env: { SCALEMESH_CONFIG: garbageFile },
      stderr: /scalemesh\.yaml/,
    },
    {
      name: "an OTLP protocol it does not ship",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      },
      stderr:
        /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported; use http\/protobuf or http\/json/,
    },
    {
      name: "a non-loopback address without TLS",
      env: {
        SCALEMESH_COORDINATOR_HOST: "0.0.0.0",
        SCALEMESH_BALANCER_HOST: "0.0.0.0",
        SCALEMESH_OPTIMIZER_HOST: "0.0.0.0",
        SCALEMESH_WORKER_HOST: "0.0.0.0",
      },
      stderr:
        /\.host is 0\.0\.0\.0, which is not a loopback address, and TLS is off.*scalemesh certs init DIR.*tls\.allow_plaintext=true/,
    },
    {
      name: "a TLS certificate without its key and CA",
      env: { SCALEMESH_TLS_CERT_FILE: "/nonexistent/service.pem" },
      stderr:
        /tls\.cert_file, tls\.key_file and tls\.ca_file together; tls\.key_file and tls\.ca_file are not set/,
    },
    {
      name: "a TLS file that cannot be read",
      env: {
        SCALEMESH_TLS_CERT_FILE: "/nonexistent/{service}.pem",
        SCALEMESH_TLS_KEY_FILE: "/nonexistent/{service}-key.pem",
        SCALEMESH_TLS_CA_FILE: "/nonexistent/ca.pem",
      },
      stderr:
        /tls\.cert_file: cannot read \/nonexistent\/(coordinator|balancer|optimizer|worker-agent)\.pem/,
    },
    {
      name: "a port out of range",
      env: { SCALEMESH_COORDINATOR_GRPC_PORT: "70000" },
      stderr: /coordinator\.grpc_port.*70000.*65535/,
    },
  ];
  for (const c of cases) {
    it(`exits 2 naming the key for ${c.name}`, () => {
      for (const service of ["coordinator", "balancer", "optimizer", "worker-agent"] as const) {
        const result = spawnSync(process.execPath, [serviceEntry(service), ...(c.args ?? [])], {
          env: { ...process.env, ...c.env },
          encoding: "utf8",
          timeout: 20_000,
        });
        expect(result.status, `${service}: ${result.stderr}`).toBe(2);
        expect(result.stderr).toMatch(c.stderr);
      }
    });
  }
});
