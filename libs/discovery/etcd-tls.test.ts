// etcd:// over TLS with client certificates, against a real etcd started with
// --client-cert-auth and certificates made as `scalemesh certs init` makes
// them: the registrar and the watcher reach it with etcdctl's own variables
// (ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY), and a client with the CA but no
// certificate of its own is refused.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Etcd3 } from "etcd3";
import { makeDevelopmentCertificates } from "../rpc/dev-certificates.js";
import { startEtcdServer, type EtcdServer } from "../../test/support/etcd-server.js";
import { createRecordingSink } from "../../test/support/recording-sink.js";
import { createEtcdRegistrar, etcdSecurityOf, watchEtcd } from "./etcd.js";
import { parseEndpointUri, type EtcdTarget } from "./endpoint-uri.js";

const dir = mkdtempSync(join(tmpdir(), "scalemesh-etcd-tls-"));
let etcd: EtcdServer;
const saved = { ...process.env };

beforeAll(async () => {
  const made = await makeDevelopmentCertificates();
  writeFileSync(join(dir, "ca.pem"), made.ca.certificatePem);
  for (const name of ["coordinator", "cli"]) {
    writeFileSync(join(dir, `${name}.pem`), made.services[name]?.certificatePem ?? "");
    writeFileSync(join(dir, `${name}-key.pem`), made.services[name]?.privateKeyPem ?? "");
  }
  etcd = await startEtcdServer({
    tls: {
      certFile: join(dir, "coordinator.pem"),
      keyFile: join(dir, "coordinator-key.pem"),
      caFile: join(dir, "ca.pem"),
    },
  });
}, 30_000);
afterAll(async () => {
  process.env = saved;
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

function target(prefix: string): EtcdTarget {
  const parsed = parseEndpointUri(etcd.uri(prefix, 2));
  if (!parsed.ok || parsed.scheme !== "etcd") throw new Error("not an etcd URI");
  return parsed;
}

describe("etcd:// over TLS", () => {
  it("registers and watches with a client certificate from etcdctl's variables", async () => {
    process.env.ETCDCTL_CACERT = join(dir, "ca.pem");
    process.env.ETCDCTL_CERT = join(dir, "cli.pem");
    process.env.ETCDCTL_KEY = join(dir, "cli-key.pem");
    const registrar = createEtcdRegistrar(
      target("/tls/coordinator"),
      {
        id: "coord-tls",
        host: "127.0.0.1",
        port: 7070,
        region: "r1",
        zone: "z1",
        meta: { kind: "coordinator" },
        check: { kind: "grpc", address: "127.0.0.1:7070" },
      },
      {},
    );
    await registrar.register();
    const seen = createRecordingSink();
    const watch = watchEtcd(target("/tls/coordinator"), seen, {});
    try {
      await seen.waitForLatest("the registration over TLS", (set) => set.length === 1);
      expect(seen.latest()?.[0]?.address).toBe("127.0.0.1:7070");
    } finally {
      watch.close();
      await registrar.deregister();
    }
  }, 30_000);

  it("is refused without a client certificate, and says which variable names an unreadable file", async () => {
    const noCert = new Etcd3({
      hosts: [`https://${etcd.clientAddress}`],
      credentials: { rootCertificate: readFileSync(join(dir, "ca.pem")) },
    });
    try {
      await expect(noCert.get("/tls/anything").string()).rejects.toThrow();
    } finally {
      noCert.close();
    }
    expect(() => etcdSecurityOf({ ETCDCTL_CACERT: "/nonexistent/ca.pem" })).toThrow(
      "ETCDCTL_CACERT: cannot read /nonexistent/ca.pem",
    );
    expect(etcdSecurityOf({ ETCDCTL_USER: "root:s3cret" }).auth).toEqual({
      username: "root",
      password: "s3cret",
    });
  }, 30_000);
});
