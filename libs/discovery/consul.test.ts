// consul:// against a fake agent that follows Consul's HTTP API and really
// runs the registered checks, probing real grpc.health.v1 servers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { ServingStatus } from "grpc-health-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  startFakeConsul,
  type FakeConsul,
  type FakeConsulOptions,
} from "../../test/support/fake-consul.js";
import {
  startGrpcHealthServer,
  type GrpcHealthServer,
} from "../../test/support/grpc-health-server.js";
import { createRecordingSink } from "../../test/support/recording-sink.js";
import { makeDevelopmentCertificates } from "../rpc/dev-certificates.js";
import { consulTlsOf } from "./consul-agent-api.js";
import { createConsulRegistrar, nextIndex, watchConsul } from "./consul.js";
import { parseEndpointUri, type ConsulTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSink, EndpointSource } from "./endpoint-watch.js";
import type { ServiceInstance } from "./registrar.js";

const POLL = { timeout: 10_000, interval: 25 };
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("consul:// registrar", () => {
  it("registers the instance with region/zone tags, meta and a gRPC check the agent runs", async () => {
    const consul = await fakeConsul();
    const health = await healthServer("SERVING");
    const target = consulTarget(
      consul,
      "scalemesh-coordinator",
      "?tag=canary&check_interval=2s&deregister_after=90s",
    );
    await createConsulRegistrar(target, instance("coordinator-a", health), {}).register();

    expect(consul.registrations).toEqual([
      {
        Name: "scalemesh-coordinator",
        ID: "coordinator-a",
        Address: "127.0.0.1",
        Port: health.port,
        Tags: ["region:eu-west", "zone:eu-west-1a", "canary"],
        Meta: { region: "eu-west", zone: "eu-west-1a", kind: "coordinator" },
        Check: {
          Name: "scalemesh grpc health of coordinator-a",
          GRPC: health.address,
          GRPCUseTLS: false,
          Interval: "2s",
          Timeout: "2s",
          DeregisterCriticalServiceAfter: "90s",
        },
      },
    ]);
    await expect.poll(() => consul.services()[0]?.checks[0]?.status, POLL).toBe("passing");
  });

  it.each([
    { answer: 200, status: "passing" },
    { answer: 429, status: "warning" },
    { answer: 503, status: "critical" },
  ])("registers an HTTP check; an answer $answer makes it $status", async ({ answer, status }) => {
    const consul = await fakeConsul();
    const url = await httpHealthServer(answer);
    const http: ServiceInstance = {
      ...instance("balancer-a", { port: 7081 }),
      check: { kind: "http", url },
    };
    await createConsulRegistrar(consulTarget(consul, "scalemesh-balancer"), http, {}).register();

    expect(consul.registrations[0]).toMatchObject({
      Check: { HTTP: url, Interval: "1s", DeregisterCriticalServiceAfter: "1m" },
    });
    expect(consul.registrations[0]).not.toHaveProperty("Check.GRPC");
    await expect
      .poll(() => consul.services()[0]?.checks[0]?.output ?? "", POLL)
      .toContain(`${answer}`);
    expect(consul.services()[0]?.checks[0]?.status).toBe(status);
  });

  it("deregisters, and a second deregister is harmless", async () => {
    const consul = await fakeConsul();
    const health = await healthServer("SERVING");
    const registrar = createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-a", health),
      {},
    );
    await registrar.register();
    expect(consul.services().map((s) => s.id)).toEqual(["svc-a"]);

    await registrar.deregister();
    expect(consul.services()).toEqual([]);
    await registrar.deregister();
    expect(
      consul.requests.filter((r) => r.path === "/v1/agent/service/deregister/svc-a"),
    ).toHaveLength(2);
  });

  it("rejects register() naming the agent when it cannot be reached; deregister() afterwards resolves", async () => {
    const port = await freePort();
    const target = parseConsul(`consul://127.0.0.1:${port}/svc`);
    const registrar = createConsulRegistrar(target, instance("svc-a", { port: 7070 }), {});

    await expect(registrar.register()).rejects.toThrow(
      `cannot register svc-a as service "svc" with the Consul agent at 127.0.0.1:${port}: the agent cannot be reached`,
    );
    await expect(registrar.deregister()).resolves.toBeUndefined();
  });

  it("sends CONSUL_HTTP_TOKEN, and says which token to check when it is missing", async () => {
    const consul = await fakeConsul({ aclToken: "s3cret-token" });
    const health = await healthServer("SERVING");
    const registrar = createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-a", health),
      {},
    );

    for (const token of [undefined, "wrong-token"]) {
      vi.stubEnv("CONSUL_HTTP_TOKEN", token);
      const refusal = await registrar.register().then(
        () => "",
        (error: unknown) => String(error),
      );
      expect(refusal).toContain("permission denied (403");
      expect(refusal).toContain("check that CONSUL_HTTP_TOKEN holds a token with service:write");
      expect(refusal).not.toContain("wrong-token");
    }

    vi.stubEnv("CONSUL_HTTP_TOKEN", "s3cret-token");
    await registrar.register();
    const sink = createRecordingSink();
    watch(consulTarget(consul, "svc"), sink);
    await expect.poll(() => sink.latest().map((e) => e.id), POLL).toEqual(["svc-a"]);
    expect(consul.requests.at(-1)?.hasToken).toBe(true);
  });

  it("speaks HTTPS with a client certificate from Consul's own variables, and is refused without one", async () => {
    const made = await makeDevelopmentCertificates();
    const dir = mkdtempSync(join(tmpdir(), "scalemesh-consul-tls-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const ca = file("ca.pem", made.ca.certificatePem);
    const cert = file("cli.pem", made.services.cli?.certificatePem ?? "");
    const key = file("cli-key.pem", made.services.cli?.privateKeyPem ?? "");
    const consul = await fakeConsul({
      tls: {
        key: made.services.coordinator?.privateKeyPem ?? "",
        cert: made.services.coordinator?.certificatePem ?? "",
        ca: made.ca.certificatePem,
        requestCert: true,
      },
    });
    const health = await healthServer("SERVING");
    vi.stubEnv("CONSUL_CACERT", ca);
    const withoutCert = createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-a", health),
      {},
    );
    await expect(withoutCert.register()).rejects.toThrow(/cannot register svc-a/);
    vi.stubEnv("CONSUL_CLIENT_CERT", cert);
    vi.stubEnv("CONSUL_CLIENT_KEY", key);
    const registrar = createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-a", health),
      {},
    );
    await registrar.register();
    const sink = createRecordingSink();
    watch(consulTarget(consul, "svc"), sink);
    await expect.poll(() => sink.latest().map((e) => e.id), POLL).toEqual(["svc-a"]);
    expect(() => consulTlsOf({ CONSUL_CACERT: "/nonexistent/ca.pem" })).toThrow(
      "CONSUL_CACERT: cannot read /nonexistent/ca.pem",
    );
    expect(consulTlsOf({})).toBeUndefined();
  });

  it("lets the agent remove an instance critical for longer than deregister_after", async () => {
    const consul = await fakeConsul({ minimumDeregisterAfterMs: 0, reapIntervalMs: 100 });
    const health = await healthServer("NOT_SERVING");
    const registrar = createConsulRegistrar(
      consulTarget(consul, "svc", "?check_interval=1s&deregister_after=1s"),
      instance("svc-a", health),
      {},
    );
    await registrar.register();
    const sink = createRecordingSink();
    watch(consulTarget(consul, "svc"), sink);

    await expect
      .poll(() => consul.services()[0]?.checks[0]?.output ?? "", POLL)
      .toContain("NOT_SERVING");
    await expect.poll(() => consul.services(), POLL).toEqual([]);
    expect(sink.published.every((set) => set.length === 0)).toBe(true);
    await expect(registrar.deregister()).resolves.toBeUndefined();
  });
});

describe("consul:// watcher", () => {
  it("lists only passing instances, and follows one going NOT_SERVING and back", async () => {
    const consul = await fakeConsul();
    const [a, b] = [await healthServer("SERVING"), await healthServer("SERVING")];
    const target = consulTarget(consul, "scalemesh-coordinator");
    await createConsulRegistrar(target, instance("coord-a", a), {}).register();
    await createConsulRegistrar(
      target,
      { ...instance("coord-b", b), region: "us-east", zone: "us-east-1b" },
      {},
    ).register();
    const sink = createRecordingSink();
    watch(target, sink);

    await expect
      .poll(() => byId(sink.latest()), POLL)
      .toEqual([
        {
          address: `127.0.0.1:${a.port}`,
          priority: 0,
          weight: 1,
          id: "coord-a",
          region: "eu-west",
          zone: "eu-west-1a",
        },
        {
          address: `127.0.0.1:${b.port}`,
          priority: 0,
          weight: 1,
          id: "coord-b",
          region: "us-east",
          zone: "us-east-1b",
        },
      ]);
    b.setStatus("NOT_SERVING");
    await expect.poll(() => byId(sink.latest()).map((e) => e.id), POLL).toEqual(["coord-a"]);
    b.setStatus("SERVING");
    await expect
      .poll(() => byId(sink.latest()).map((e) => e.id), POLL)
      .toEqual(["coord-a", "coord-b"]);
    expect(sink.failures).toEqual([]);
  });

  it("asks for the URI's tag only, and names an unknown datacenter", async () => {
    const consul = await fakeConsul();
    const health = await healthServer("SERVING");
    await createConsulRegistrar(
      consulTarget(consul, "svc", "?tag=canary"),
      instance("svc-canary", health),
      {},
    ).register();
    await createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-plain", health),
      {},
    ).register();
    const tagged = createRecordingSink();
    const everyone = createRecordingSink();
    const elsewhere = createRecordingSink();
    watch(consulTarget(consul, "svc", "?tag=canary"), tagged);
    watch(consulTarget(consul, "svc"), everyone);
    watch(consulTarget(consul, "svc", "?dc=mars-1"), elsewhere);

    await expect
      .poll(() => byId(everyone.latest()).map((e) => e.id), POLL)
      .toEqual(["svc-canary", "svc-plain"]);
    await expect.poll(() => tagged.latest().map((e) => e.id), POLL).toEqual(["svc-canary"]);
    await expect
      .poll(() => elsewhere.failures[0] ?? "", POLL)
      .toContain('knows no datacenter "mars-1"');
  });

  it("waits on blocking queries rather than polling", async () => {
    const consul = await fakeConsul();
    const health = await healthServer("SERVING");
    const target = consulTarget(consul, "svc");
    await createConsulRegistrar(target, instance("svc-a", health), {}).register();
    await expect.poll(() => consul.services()[0]?.checks[0]?.status, POLL).toBe("passing");
    const sink = createRecordingSink();
    watch(target, sink);
    await expect.poll(() => sink.latest().length, POLL).toBe(1);
    await expect.poll(() => consul.blockingQueries().held, POLL).toBe(1);

    const queries = () => consul.requests.filter((r) => r.path === "/v1/health/service/svc");
    const before = queries().length;
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // a quiet second: nothing changes, so nothing should be asked
    expect(queries().length - before).toBeLessThanOrEqual(1);
    const held = queries().at(-1);
    expect(Number(held?.query.get("index"))).toBeGreaterThan(0);
    expect(held?.query.get("wait")).toBe("30s");
    expect(held?.query.get("passing")).toBe("true");
  });

  it("close() with a blocking query in flight hangs it up and publishes nothing more", async () => {
    const consul = await fakeConsul();
    const sink = createRecordingSink();
    const source = watchConsul(consulTarget(consul, "svc"), sink, {});
    await expect.poll(() => consul.blockingQueries().held, POLL).toBe(1);
    const publishedBeforeClose = sink.published.length;

    await source.close();
    await expect.poll(() => consul.blockingQueries().abandoned, POLL).toBe(1);
    expect(consul.blockingQueries()).toMatchObject({ held: 0, answered: 0 });
    const health = await healthServer("SERVING");
    await createConsulRegistrar(
      consulTarget(consul, "svc"),
      instance("svc-a", health),
      {},
    ).register();
    expect(sink.published.length).toBe(publishedBeforeClose);
  }, 10_000);

  it("reports an unreachable agent by its address, and recovers when the agent is back", async () => {
    const port = await freePort();
    const target = parseConsul(`consul://127.0.0.1:${port}/svc?check_interval=1s`);
    const sink = createRecordingSink();
    watch(target, sink);
    await expect
      .poll(() => sink.failures[0] ?? "", POLL)
      .toContain(
        `consul://127.0.0.1:${port}/svc: the Consul agent at 127.0.0.1:${port} cannot be reached`,
      );
    expect(sink.published).toEqual([]);

    const consul = await fakeConsul({ port });
    const health = await healthServer("SERVING");
    await createConsulRegistrar(target, instance("svc-a", health), {}).register();
    await expect
      .poll(() => sink.latest().map((e) => e.id), { ...POLL, timeout: 20_000 })
      .toEqual(["svc-a"]);
    expect(consul.requests.some((r) => r.path === "/v1/health/service/svc")).toBe(true);
  }, 30_000);

  it("publishes nothing synchronously, and an empty set for a service nobody registered", async () => {
    const consul = await fakeConsul();
    const sink = createRecordingSink();
    watch(consulTarget(consul, "nobody"), sink);
    expect(sink.published).toEqual([]);
    await expect.poll(() => sink.published.length, POLL).toBe(1);
    expect(sink.published[0]).toEqual([]);
  });
});

describe("nextIndex (Consul's rules for blocking clients)", () => {
  it.each([
    { name: "first answer is taken", previous: 0n, received: 42n, next: 42n },
    { name: "a larger index is taken", previous: 42n, received: 57n, next: 57n },
    { name: "the same index is kept (wait ran out)", previous: 42n, received: 42n, next: 42n },
    { name: "an index that went backwards restarts from 0", previous: 42n, received: 7n, next: 0n },
    { name: "an index of 0 becomes 1, never a busy loop", previous: 42n, received: 0n, next: 1n },
  ])("$name", ({ previous, received, next }) => {
    expect(nextIndex(previous, received)).toBe(next);
  });
});

describe("the fake agent refuses bad registrations as Consul does", () => {
  it.each([
    { name: "a body that is not JSON", body: "{", reason: "Request decode failed" },
    {
      name: "no service name",
      body: JSON.stringify({ ID: "x", Port: 1 }),
      reason: "Missing service name",
    },
    {
      name: "a wildcard address",
      body: JSON.stringify({ Name: "x", Address: "0.0.0.0" }),
      reason: "Invalid service address",
    },
    {
      name: "a meta key Consul reserves",
      body: JSON.stringify({ Name: "x", Meta: { "consul-x": "1" } }),
      reason: "Invalid Service Meta",
    },
    {
      name: "a port that is a string",
      body: JSON.stringify({ Name: "x", Port: "7070" }),
      reason: "cannot unmarshal string",
    },
    {
      name: "a gRPC check without interval",
      body: JSON.stringify({ Name: "x", Check: { GRPC: "127.0.0.1:1" } }),
      reason: "Interval must be > 0",
    },
    {
      name: "a bad duration",
      body: JSON.stringify({ Name: "x", Check: { GRPC: "127.0.0.1:1", Interval: "soon" } }),
      reason: "invalid duration",
    },
  ])("$name", async ({ body, reason }) => {
    const consul = await fakeConsul();
    const response = await fetch(`http://${consul.address}/v1/agent/service/register`, {
      method: "PUT",
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain(reason);
    expect(consul.services()).toEqual([]);
  });
});

// ---- fixtures ----

async function fakeConsul(options: FakeConsulOptions = {}): Promise<FakeConsul> {
  // random 0: the first check runs at once and blocking queries get no jitter.
  const consul = await startFakeConsul({ random: () => 0, ...options });
  cleanups.push(() => consul.close());
  return consul;
}

async function healthServer(initial: ServingStatus): Promise<GrpcHealthServer> {
  const server = await startGrpcHealthServer(initial);
  cleanups.push(() => server.close());
  return server;
}

async function httpHealthServer(status: number): Promise<string> {
  const server: HttpServer = createServer((_req, res) => {
    res.writeHead(status, { "Content-Type": "text/plain" });
    res.end(`answering ${status}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
}

/** A port that was free a moment ago: nothing listens there now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function parseConsul(uri: string): ConsulTarget {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok || parsed.scheme !== "consul")
    throw new Error(`test URI ${uri} did not parse as consul://`);
  return parsed;
}

function consulTarget(
  consul: FakeConsul,
  service: string,
  query = "?check_interval=1s",
): ConsulTarget {
  return parseConsul(`consul://${consul.address}/${service}${query}`);
}

function instance(
  id: string,
  server: { readonly port: number; readonly address?: string },
): ServiceInstance {
  return {
    id,
    host: "127.0.0.1",
    port: server.port,
    region: "eu-west",
    zone: "eu-west-1a",
    meta: { kind: "coordinator" },
    check: { kind: "grpc", address: server.address ?? `127.0.0.1:${server.port}` },
  };
}

function watch(target: ConsulTarget, sink: EndpointSink): EndpointSource {
  const source = watchConsul(target, sink, {});
  cleanups.push(() => source.close());
  return source;
}

function byId(endpoints: readonly DiscoveredEndpoint[]): DiscoveredEndpoint[] {
  return [...endpoints].sort((x, y) => (x.id ?? "").localeCompare(y.id ?? ""));
}
