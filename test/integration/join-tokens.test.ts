// Worker join tokens on a real mesh, with keys and tokens made by the CLI:
// a worker with a token for its id and capabilities joins and runs tasks;
// one without a token, with an expired or revoked one, or claiming an id or a
// capability outside it never registers, and the coordinator answers the
// session with UNAUTHENTICATED or PERMISSION_DENIED. No token reaches a log.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Coordinator, TaskState, WorkerSessionRequestSchema } from "../../libs/contracts/index.js";
import { Code, createRpcClient, toConnectError, useBearerToken } from "../../libs/rpc/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { serviceTokenEnv, stopTokenMesh } from "../support/token-mesh.js";
import { serviceEntry, startService, type ServiceProcess } from "../support/service-process.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-tokens-"));
const revokedFile = join(dir, "revoked.txt");
const signingKey = join(dir, "token-signing-key.pem");

function cli(...args: string[]): { stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [serviceEntry("cli"), ...args], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`scalemesh ${args.join(" ")}: ${run.stderr}`);
  return { stdout: run.stdout, stderr: run.stderr };
}

/** A token from `scalemesh token create`, and its id. */
function token(worker: string, capabilities: string[], ttl = "1h"): { token: string; id: string } {
  const caps = capabilities.flatMap((c) => ["--capability", c]);
  const made = cli(
    "token",
    "create",
    "--key",
    signingKey,
    "--worker",
    worker,
    ...caps,
    "--ttl",
    ttl,
  );
  const id = /join token ([0-9a-f-]{36})/.exec(made.stderr)?.[1] ?? "";
  return { token: made.stdout.trim(), id };
}

const tokens: string[] = [];
function tokenFile(name: string, value: string): string {
  tokens.push(value);
  const file = join(dir, `${name}.token`);
  writeFileSync(file, `${value}\n`);
  return file;
}

let mesh: Mesh;
let clientToken = "";
const refused: ServiceProcess[] = [];
beforeAll(async () => {
  cli("token", "keygen", dir);
  // The key also asks role tokens of Admin and Balancer callers: this file's own calls hold them.
  const role = (name: string) =>
    cli("token", "create", "--key", signingKey, "--role", name).stdout.trim();
  useBearerToken(role("admin"));
  clientToken = role("client");
  writeFileSync(revokedFile, "# revoked join tokens\n");
  mesh = await startMesh({
    workers: 0,
    env: {
      SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: join(dir, "token-public-key.pem"),
      SCALEMESH_AUTH_REVOKED_TOKENS_FILE: revokedFile,
      ...serviceTokenEnv(dir, role("service")),
    },
  });
}, 60_000);
afterAll(() => stopTokenMesh(mesh, dir));

/** Starts a worker agent that is expected not to get in. */
async function strangerWorker(id: string, capabilities: string[], file?: string) {
  const worker = await startService("worker-agent", {
    args: [
      "--coordinator",
      `static://127.0.0.1:${mesh.coordinator.grpcPort}`,
      "--worker-id",
      id,
      "--http-port",
      "0",
      ...capabilities.flatMap((c) => ["--capability", c]),
    ],
    env: file ? { SCALEMESH_WORKER_JOIN_TOKEN_FILE: file } : {},
    readyMessage: "worker agent starting",
  });
  refused.push(worker);
  return worker;
}

/** The status a Register on a raw session gets with `authorization`. */
async function sessionStatus(workerId: string, capabilities: string[], authorization?: string) {
  const client = createRpcClient(Coordinator, `127.0.0.1:${mesh.coordinator.grpcPort}`);
  try {
    async function* requests() {
      yield create(WorkerSessionRequestSchema, {
        message: { case: "register", value: { worker: { workerId, slots: 1, capabilities } } },
      });
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
    for await (const response of client.workerSession(requests(), {
      // Always set, so this process's own role token is not sent in its place.
      headers: { authorization: authorization ?? "" },
    }))
      return { code: "Ok", message: response.message.case ?? "" };
    return { code: "ended", message: "" };
  } catch (error) {
    const status = toConnectError(error);
    return { code: Code[status.code], message: status.rawMessage };
  } finally {
    client.close();
  }
}

describe("join tokens", () => {
  it("let a worker join within its token's scope, and it runs tasks", async () => {
    const gpu = token("gpu-*", ["gpu"]);
    await mesh.startWorker("gpu-1", ["--capability", "gpu"], {
      SCALEMESH_WORKER_JOIN_TOKEN_FILE: tokenFile("gpu", gpu.token),
    });
    const assigned = await mesh.balancerClient.assign(
      {
        task: { payload: new TextEncoder().encode("joined"), requiredCapabilities: ["gpu"] },
        awaitResult: true,
      },
      { headers: { authorization: `Bearer ${clientToken}` } },
    );
    expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
    expect(assigned.workerId).toBe("gpu-1");
  });

  it("answer a session without a valid token UNAUTHENTICATED, and one beyond its scope PERMISSION_DENIED", async () => {
    const gpu = token("gpu-*", ["gpu"]);
    tokens.push(gpu.token);
    expect(await sessionStatus("gpu-9", ["gpu"])).toEqual({
      code: "Unauthenticated",
      message: expect.stringMatching(/needs a join token: send "authorization: Bearer <token>"/),
    });
    expect(await sessionStatus("gpu-9", ["gpu"], "Bearer not.a.token")).toMatchObject({
      code: "Unauthenticated",
      message: expect.stringMatching(/join token is not valid/),
    });
    expect(await sessionStatus("cpu-1", [], `Bearer ${gpu.token}`)).toEqual({
      code: "PermissionDenied",
      message: 'worker id "cpu-1" is outside the join token\'s scope "gpu-*"',
    });
    expect(await sessionStatus("gpu-9", ["gpu", "fpga"], `Bearer ${gpu.token}`)).toEqual({
      code: "PermissionDenied",
      message: "capabilities fpga are outside the join token's scope (gpu)",
    });
    expect(await sessionStatus("gpu-9", ["gpu"], `Bearer ${gpu.token}`)).toEqual({
      code: "Ok",
      message: "registered",
    });
  }, 30_000);

  it("refuse an expired token, and a revoked one from the next join on", async () => {
    const shortLived = token("gpu-*", ["gpu"], "1s");
    tokens.push(shortLived.token);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await sessionStatus("gpu-5", [], `Bearer ${shortLived.token}`)).toEqual({
      code: "Unauthenticated",
      message: "join token has expired",
    });
    const revoked = token("gpu-*", ["gpu"]);
    tokens.push(revoked.token);
    expect((await sessionStatus("gpu-6", [], `Bearer ${revoked.token}`)).code).toBe("Ok");
    cli("token", "revoke", revoked.id, "--revoked-file", revokedFile);
    expect(await sessionStatus("gpu-7", [], `Bearer ${revoked.token}`)).toEqual({
      code: "Unauthenticated",
      message: `join token ${revoked.id} is revoked`,
    });
  }, 30_000);

  it("never register worker agents without a token or outside it, and log no token", async () => {
    const gpu = token("gpu-*", ["gpu"]);
    await strangerWorker("no-token", []);
    await strangerWorker("cpu-2", [], tokenFile("cpu", gpu.token));
    await strangerWorker("gpu-3", ["gpu", "fpga"], tokenFile("fpga", gpu.token));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ids = (await mesh.admin.listWorkers({})).workers.map((w) => w.spec?.workerId);
    expect(ids).not.toContain("no-token");
    expect(ids).not.toContain("cpu-2");
    expect(ids).not.toContain("gpu-3");
    const refusals = mesh.coordinator.logs.filter((l) => l.msg === "worker refused at join");
    expect(refusals.map((l) => l.workerId)).toEqual(
      expect.arrayContaining(["no-token", "cpu-2", "gpu-3"]),
    );
    // Every line every process wrote, against every token this file made.
    const written = [mesh.coordinator, mesh.balancer, ...mesh.workers, ...refused].flatMap((p) => [
      ...p.logs.map((l) => JSON.stringify(l)),
      ...p.stderr,
    ]);
    for (const secret of tokens)
      for (const line of written) expect(line.includes(secret.slice(-24))).toBe(false);
    for (const worker of refused) await worker.stop();
  }, 40_000);
});
