// A mesh with mutual TLS and tokens both on, from `certs init` and `token
// keygen`: tasks run end to end while the balancer proves the service role
// by its certificate alone; roles mapped from certificate names
// (auth.certificate_roles) hold over gRPC (buf curl, Go's TLS stack) and over
// HTTPS; a worker's certificate cannot place tasks around the balancer.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { useBearerToken, useTls } from "../../libs/rpc/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { serviceEntry } from "../support/service-process.js";
import { stopTokenMesh } from "../support/token-mesh.js";
import { bufCurl, certsInit, identityTls, tlsEnv, withCert } from "../support/tls-certs.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-certificate-roles-"));
const certs = join(dir, "certs");

function token(...args: string[]): string {
  const made = spawnSync(
    process.execPath,
    [serviceEntry("cli"), "token", "create", "--key", join(dir, "token-signing-key.pem"), ...args],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(made.stderr);
  return made.stdout.trim();
}

/** buf curl's answer, or the gRPC error it printed. */
async function curl(port: number, method: string, as: string, body: unknown = {}) {
  try {
    return await bufCurl(port, method, withCert(certs, as), body);
  } catch (error) {
    return (error as { stderr?: string }).stderr ?? String(error);
  }
}

/** POST to the Admin JSON port over HTTPS with the CLI's certificate and no token. */
function adminOverHttps(method: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: mesh.coordinator.httpPort,
        path: `/scalemesh.v1.Admin/${method}`,
        method: "POST",
        headers: { "content-type": "application/json" },
        ca: readFileSync(join(certs, "ca.pem")),
        cert: readFileSync(join(certs, "cli.pem")),
        key: readFileSync(join(certs, "cli-key.pem")),
        timeout: 5_000,
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

let mesh: Mesh;
let clientToken = "";
beforeAll(async () => {
  certsInit(certs);
  if (spawnSync(process.execPath, [serviceEntry("cli"), "token", "keygen", dir]).status !== 0)
    throw new Error("keygen failed");
  clientToken = token("--role", "client", "--holder", "orders");
  useTls(identityTls(certs));
  useBearerToken(token("--role", "admin"));
  mesh = await startMesh({
    workers: 0,
    env: {
      ...tlsEnv(certs),
      SCALEMESH_AUTH_TOKEN_PUBLIC_KEY_FILE: join(dir, "token-public-key.pem"),
      SCALEMESH_AUTH_CERTIFICATE_ROLES:
        "scalemesh-balancer=service,scalemesh-coordinator=service,scalemesh-cli=viewer",
    },
  });
  const joinFile = join(dir, "worker.token");
  writeFileSync(joinFile, token("--worker", "worker-*"));
  await mesh.startWorker("worker-1", [], { SCALEMESH_WORKER_JOIN_TOKEN_FILE: joinFile });
}, 60_000);
afterAll(async () => {
  useTls(undefined);
  await stopTokenMesh(mesh, dir);
});

describe("roles from certificates, with mutual TLS and tokens on", () => {
  it("runs a task end to end: the balancer holds the service role by its certificate alone", async () => {
    const assigned = await mesh.balancerClient.assign(
      { task: { payload: new TextEncoder().encode("tls and tokens") }, awaitResult: true },
      { headers: { authorization: `Bearer ${clientToken}` } },
    );
    expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
    expect(new TextDecoder().decode(assigned.result?.output)).toBe("TLS AND TOKENS");
  });

  it("lets only the balancer's certificate place around the balancer, never a worker's", async () => {
    const port = mesh.coordinator.grpcPort;
    const place = "scalemesh.v1.Coordinator/Place";
    // Past the role check, Place judges the request itself (here: no task).
    expect(await curl(port, place, "balancer")).toMatch(/"code": "invalid_argument"/);
    const asWorker = await curl(port, place, "worker-agent");
    expect(asWorker).toMatch(/"code": "unauthenticated"/);
    expect(asWorker).toContain(
      "the client certificate (scalemesh-worker-agent) holds no role in auth.certificate_roles",
    );
    expect(await curl(port, place, "cli")).toContain(
      "Coordinator/Place needs the service role; the certificate of scalemesh-cli has viewer",
    );
  });

  it("holds a role mapped to a certificate name over gRPC and HTTPS: the CLI's reads, and no drain", async () => {
    const port = mesh.coordinator.grpcPort;
    const status = JSON.parse(await curl(port, "scalemesh.v1.Admin/GetClusterStatus", "cli")) as {
      workersAlive?: number;
    };
    expect(status.workersAlive).toBe(1);
    expect(
      await curl(port, "scalemesh.v1.Admin/DrainWorker", "cli", { workerId: "worker-1" }),
    ).toContain(
      "Admin/DrainWorker needs the operator role; the certificate of scalemesh-cli has viewer",
    );
    expect((await adminOverHttps("GetClusterStatus", {})).status).toBe(200);
    const drained = await adminOverHttps("DrainWorker", { workerId: "worker-1" });
    expect(drained.status).toBe(403);
    expect(drained.text).toContain(
      "needs the operator role; the certificate of scalemesh-cli has viewer",
    );
  });
});
