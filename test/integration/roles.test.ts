// Roles on a real mesh, with tokens made by the CLI: each role is allowed
// what it should be and refused the rest, over gRPC metadata and over HTTP
// `Authorization: Bearer`; a stolen viewer token cannot drain; the CLI
// carries its own token from auth.token_file. Refusals name the role needed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Optimizer, TaskState } from "../../libs/contracts/index.js";
import { createRpcClient, toConnectError, useBearerToken } from "../../libs/rpc/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { serviceTokenEnv, stopTokenMesh } from "../support/token-mesh.js";
import { serviceEntry } from "../support/service-process.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-roles-"));
const signingKey = join(dir, "token-signing-key.pem");

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [serviceEntry("cli"), ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
}

function token(...args: string[]): string {
  const made = cli(["token", "create", "--key", signingKey, ...args]);
  if (made.status !== 0) throw new Error(made.stderr);
  return made.stdout.trim();
}

const tokens: Record<string, string> = {};
let joinToken = "";
const bearer = (role: string) => ({ headers: { authorization: `Bearer ${tokens[role]}` } });

async function* oneSample() {
  yield { sample: { workers: 1, totalSlots: 4 } };
}

async function status(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    const refused = toConnectError(error);
    return `${refused.code}: ${refused.rawMessage}`;
  }
}

let mesh: Mesh;
beforeAll(async () => {
  if (cli(["token", "keygen", dir]).status !== 0) throw new Error("keygen failed");
  for (const role of ["viewer", "operator", "admin", "client", "service"])
    tokens[role] = token("--role", role, "--holder", `${role}-1`);
  // The test's own clients (the mesh's readiness checks) as an admin.
  useBearerToken(tokens.admin);
  mesh = await startMesh({
    workers: 0,
    withOptimizer: true,
    env: {
      SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: join(dir, "token-public-key.pem"),
      ...serviceTokenEnv(dir, tokens.service ?? ""),
      SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "0.2",
    },
  });
  const join_ = join(dir, "worker.token");
  joinToken = token("--worker", "worker-*");
  writeFileSync(join_, joinToken);
  await mesh.startWorker("worker-1", [], { SCALEMESH_WORKER_JOIN_TOKEN_FILE: join_ });
}, 60_000);
afterAll(() => stopTokenMesh(mesh, dir));

describe("roles", () => {
  it("let a viewer read and refuse it every change, naming the role needed", async () => {
    const admin = mesh.admin;
    expect(await status(admin.getClusterStatus({}, bearer("viewer")))).toBe("OK");
    expect(await status(admin.listWorkers({}, bearer("viewer")))).toBe("OK");
    // A stolen viewer token used to drain:
    expect(await status(admin.drainWorker({ workerId: "worker-1" }, bearer("viewer")))).toBe(
      "7: Admin/DrainWorker needs the operator role; this token has viewer",
    );
    expect(await status(admin.purgeTasks({}, bearer("viewer")))).toMatch(
      /^7: Admin\/PurgeTasks needs the admin role; this token has viewer$/,
    );
    expect((await admin.listWorkers({}, bearer("admin"))).workers[0]?.state).toBeDefined();
  });

  it("let an operator cordon and uncordon but not purge; an admin purge", async () => {
    const admin = mesh.admin;
    expect(await status(admin.cordonWorker({ workerId: "worker-1" }, bearer("operator")))).toBe(
      "OK",
    );
    expect(await status(admin.uncordonWorker({ workerId: "worker-1" }, bearer("operator")))).toBe(
      "OK",
    );
    expect(await status(admin.purgeTasks({}, bearer("operator")))).toBe(
      "7: Admin/PurgeTasks needs the admin role; this token has operator",
    );
    expect(await status(admin.purgeTasks({}, bearer("admin")))).not.toMatch(/^(7|16):/);
  });

  it("let only a client assign, and refuse a caller without a token", async () => {
    const client = mesh.balancerClient;
    const task = { payload: new TextEncoder().encode("with a role") };
    const assigned = await client.assign({ task, awaitResult: true }, bearer("client"));
    expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
    expect(await status(client.assign({ task }, bearer("admin")))).toBe(
      "7: Balancer/Assign needs the client role; this token has admin",
    );
    expect(await status(client.route({}, bearer("viewer")))).toMatch(/needs the client role/);
    expect(
      await status(
        client.assign({ task }, { headers: { authorization: "Bearer forged.token.x" } }),
      ),
    ).toMatch(/^16: role token is not valid/);
    expect(await status(client.assign({ task }, { headers: { authorization: "" } }))).toMatch(
      /^16: this call needs a role token/,
    );
  });

  it("keep the internal services to the service role: no worker or client places tasks or watches the fleet directly", async () => {
    const coordinator = mesh.coordinatorClient;
    const place = { task: { payload: new TextEncoder().encode("around the balancer") } };
    expect(await status(coordinator.place(place, bearer("client")))).toBe(
      "7: Coordinator/Place needs the service role; this token has client",
    );
    expect(await status(coordinator.waitTask({ taskId: "x" }, bearer("admin")))).toBe(
      "7: Coordinator/WaitTask needs the service role; this token has admin",
    );
    expect(await status(coordinator.place(place, { headers: { authorization: "" } }))).toMatch(
      /^16: this call needs a role token/,
    );
    // The service token passes the role check (and Place answers on its own terms).
    expect(await status(coordinator.place(place, bearer("service")))).not.toMatch(/^(7|16):/);
    // The balancer's own service token got it its view: a client's task runs end to end.
    const assigned = await mesh.balancerClient.assign(
      { task: { payload: new TextEncoder().encode("through the balancer") }, awaitResult: true },
      bearer("client"),
    );
    expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
  });

  it("let the coordinator feed the optimizer as a service, and a viewer read forecasts but not feed them", async () => {
    const optimizer = createRpcClient(Optimizer, `127.0.0.1:${mesh.optimizer?.grpcPort}`);
    // The coordinator's load samples reached it with the service token.
    const samplesUsed = async () =>
      (await optimizer.getRecommendation({}, bearer("viewer"))).recommendation?.samplesUsed ?? 0;
    const deadline = Date.now() + 20_000;
    while ((await samplesUsed()) === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await samplesUsed()).toBeGreaterThan(0);
    expect(await status(optimizer.observe(oneSample(), bearer("viewer")))).toBe(
      "7: Optimizer/Observe needs the service role; this token has viewer",
    );
    expect(await status(optimizer.getForecast({}, bearer("client")))).toBe(
      "7: Optimizer/GetForecast needs the viewer role; this token has client",
    );
    optimizer.close();
  });

  it("holds the same rules over HTTP with Authorization: Bearer", async () => {
    const post = (path: string, role?: string) =>
      fetch(`http://127.0.0.1:${mesh.coordinator.httpPort}/scalemesh.v1.Admin/${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}),
        },
        body: JSON.stringify({ workerId: "worker-1" }),
      });
    expect((await post("GetClusterStatus", "viewer")).status).toBe(200);
    const drained = await post("DrainWorker", "viewer");
    expect(drained.status).toBe(403);
    expect(await drained.text()).toContain("needs the operator role");
    expect((await post("GetClusterStatus")).status).toBe(401);
  });

  it("lets the CLI carry its token from auth.token_file, and says what it lacks", () => {
    const viewerFile = join(dir, "viewer.token");
    writeFileSync(viewerFile, tokens.viewer ?? "");
    const env = {
      SCALEMESH_AUTH_TOKEN_FILE: viewerFile,
      SCALEMESH_COORDINATOR_GRPC_PORT: String(mesh.coordinator.grpcPort),
    };
    const coordinator = ["--coordinator", `static://127.0.0.1:${mesh.coordinator.grpcPort}`];
    const workers = cli(["workers", ...coordinator], env);
    expect(workers.status, workers.stderr).toBe(0);
    expect(workers.stdout).toContain("worker-1");
    const drain = cli(["drain", "worker-1", ...coordinator], env);
    expect(drain.status).toBe(1);
    expect(drain.stderr).toContain(
      "Admin/DrainWorker needs the operator role; this token has viewer",
    );
    expect(drain.stderr).not.toContain(tokens.viewer?.slice(-20));
  });

  it("never writes a role or join token to any log line of any process", () => {
    const written = [mesh.coordinator, mesh.balancer, ...mesh.workers].flatMap((p) => [
      ...p.logs.map((l) => JSON.stringify(l)),
      ...p.stderr,
    ]);
    expect(written.length).toBeGreaterThan(10);
    for (const secret of [...Object.values(tokens), joinToken])
      for (const line of written) expect(line.includes(secret.slice(-24))).toBe(false);
  });

  it("never shows a token in any service's /metrics", async () => {
    const processes = [mesh.coordinator, mesh.balancer, mesh.optimizer, ...mesh.workers];
    for (const process of processes) {
      const text = await (await fetch(`http://127.0.0.1:${process?.httpPort}/metrics`)).text();
      expect(text).toContain("scalemesh_");
      for (const secret of [...Object.values(tokens), joinToken])
        expect(text.includes(secret.slice(-24))).toBe(false);
    }
  });
});
