// Mutual TLS with real certificates from `scalemesh certs init`: a mesh that
// runs tasks end to end, buf curl (Go's TLS stack) with --cacert/--cert/--key
// on every gRPC port, HTTPS on every HTTP port, and the refusals: plaintext
// to a TLS port, no client certificate, a certificate from another CA. Then a
// rotation: new files on disk are served without a restart.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { request as plainRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { useTls } from "../../libs/rpc/index.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import { startService, stopAll } from "../support/service-process.js";
import { BUF, bufCurl, certsInit, identityTls, tlsEnv, withCert } from "../support/tls-certs.js";

const root = mkdtempSync(join(tmpdir(), "scalemesh-tls-"));
const certs = join(root, "certs");
const otherCa = join(root, "other");

/** GET path over HTTPS with the given files; resolves with the status, or rejects with the TLS error. */
function httpsGet(port: number, path: string, files: { ca: string; cert?: string; key?: string }) {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: readFileSync(files.ca),
        ...(files.cert ? { cert: readFileSync(files.cert) } : {}),
        ...(files.key ? { key: readFileSync(files.key) } : {}),
        timeout: 5_000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

let mesh: Mesh;
beforeAll(async () => {
  certsInit(certs);
  certsInit(otherCa);
  useTls(identityTls(certs));
  mesh = await startMesh({ workers: 1, withOptimizer: true, env: tlsEnv(certs) });
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
  await stopAll();
  useTls(undefined);
  rmSync(root, { recursive: true, force: true });
});

describe("mutual TLS", () => {
  it("runs a task end to end, every hop over TLS", async () => {
    const assigned = await mesh.balancerClient.assign({
      task: { payload: new TextEncoder().encode("over tls") },
      awaitResult: true,
    });
    expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
    expect(new TextDecoder().decode(assigned.result?.output)).toBe("OVER TLS");
  });

  it("answers buf curl with the CA and a client certificate on every gRPC port, through reflection", async () => {
    const optimizer = mesh.optimizer?.grpcPort ?? 0;
    for (const port of [mesh.coordinator.grpcPort, mesh.balancer.grpcPort, optimizer]) {
      const health = await bufCurl(port, "grpc.health.v1.Health/Check", withCert(certs));
      expect(JSON.parse(health)).toEqual({ status: "SERVING" });
    }
    const status = JSON.parse(
      await bufCurl(
        mesh.coordinator.grpcPort,
        "scalemesh.v1.Admin/GetClusterStatus",
        withCert(certs),
      ),
    ) as { workersAlive?: number };
    expect(status.workersAlive).toBe(1);
  });

  it("refuses buf curl without a client certificate, with another CA's certificate, and in plaintext", async () => {
    const port = mesh.balancer.grpcPort;
    await expect(
      bufCurl(port, "grpc.health.v1.Health/Check", ["--cacert", join(certs, "ca.pem")]),
    ).rejects.toThrow();
    await expect(
      bufCurl(port, "grpc.health.v1.Health/Check", [
        "--cacert",
        join(certs, "ca.pem"),
        "--cert",
        join(otherCa, "cli.pem"),
        "--key",
        join(otherCa, "cli-key.pem"),
      ]),
    ).rejects.toThrow();
    await expect(
      promisify(execFile)(
        BUF,
        [
          "curl",
          "--protocol",
          "grpc",
          "--http2-prior-knowledge",
          "-d",
          "{}",
          `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`,
        ],
        { timeout: 20_000 },
      ),
    ).rejects.toThrow();
  });

  it("serves HTTPS on every HTTP port, to a client certificate the CA signed only", async () => {
    const files = {
      ca: join(certs, "ca.pem"),
      cert: join(certs, "cli.pem"),
      key: join(certs, "cli-key.pem"),
    };
    const ports = [
      mesh.coordinator.httpPort,
      mesh.balancer.httpPort,
      mesh.optimizer?.httpPort ?? 0,
    ];
    for (const port of [...ports, ...mesh.workers.map((w) => w.httpPort)])
      expect(await httpsGet(port, "/healthz", files)).toBe(200);
    await expect(
      httpsGet(mesh.coordinator.httpPort, "/healthz", { ca: files.ca }),
    ).rejects.toThrow();
    const plaintext = new Promise<number>((resolve, reject) => {
      const req = plainRequest(
        { host: "127.0.0.1", port: mesh.coordinator.httpPort, path: "/healthz", timeout: 5_000 },
        (response) => resolve(response.statusCode ?? 0),
      );
      req.on("error", reject);
      req.end();
    });
    await expect(plaintext).rejects.toThrow();
  });

  it("never registers a worker whose certificate another CA signed", async () => {
    const stranger = await startService("worker-agent", {
      args: ["--coordinator", `static://127.0.0.1:${mesh.coordinator.grpcPort}`],
      env: { ...tlsEnv(otherCa), SCALEMESH_WORKER_WORKER_ID: "stranger" },
      readyMessage: "worker agent starting",
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const { workers } = await mesh.admin.listWorkers({});
    expect(workers.map((w) => w.spec?.workerId)).not.toContain("stranger");
    // It is up and still trying: the handshake is what stops it.
    expect(stranger.child.exitCode).toBeNull();
    expect(mesh.workers).toHaveLength(1);
    await stranger.stop();
  }, 30_000);
});

describe("private keys", () => {
  it("never reach a log line of any process of the TLS mesh", () => {
    const keys = ["coordinator", "balancer", "worker-agent", "cli"].map(
      (name) => readFileSync(join(certs, `${name}-key.pem`), "utf8").split("\n")[1] ?? "",
    );
    const written = [mesh.coordinator, mesh.balancer, ...mesh.workers].flatMap((p) => [
      ...p.logs.map((l) => JSON.stringify(l)),
      ...p.stderr,
    ]);
    expect(written.length).toBeGreaterThan(5);
    for (const key of keys) {
      expect(key.length).toBeGreaterThan(20);
      for (const line of written) expect(line.includes(key)).toBe(false);
    }
  });
});

describe("certificate rotation", () => {
  it("serves new certificate files without a restart, on the gRPC and the HTTP port", async () => {
    const live = join(root, "live");
    cpSync(certs, live, { recursive: true });
    const optimizer = await startService("optimizer", {
      env: {
        ...tlsEnv(live),
        SCALEMESH_TLS_RELOAD_SEC: "0.2",
        SCALEMESH_OPTIMIZER_GRPC_PORT: "0",
        SCALEMESH_OPTIMIZER_HTTP_PORT: "0",
      },
    });
    try {
      const newFiles = {
        ca: join(otherCa, "ca.pem"),
        cert: join(otherCa, "cli.pem"),
        key: join(otherCa, "cli-key.pem"),
      };
      await expect(httpsGet(optimizer.httpPort, "/healthz", newFiles)).rejects.toThrow();
      // cert-manager's way: the whole set is replaced.
      cpSync(otherCa, live, { recursive: true });
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        status = await httpsGet(optimizer.httpPort, "/healthz", newFiles).catch(() => 0);
      }
      expect(status).toBe(200);
      expect(
        JSON.parse(
          await bufCurl(optimizer.grpcPort, "grpc.health.v1.Health/Check", withCert(otherCa)),
        ),
      ).toEqual({ status: "SERVING" });
    } finally {
      await optimizer.stop();
    }
  }, 60_000);
});
