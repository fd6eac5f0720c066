// consul:// against a real Consul agent, run when CONSUL_HTTP_ADDR names one
// (e.g. `consul agent -dev` on this machine; CONSUL_HTTP_TOKEN if ACLs are on).
// The agent dials the test's gRPC health servers at CONSUL_TEST_CHECK_HOST
// (default 127.0.0.1; set it when the agent runs in a container). The same
// scenarios as consul.test.ts, except the unreachable agent, which needs none.
// A counting HTTP proxy between the watcher and the agent shows what the
// watcher asks and when it hangs up.
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServingStatus } from "grpc-health-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  startGrpcHealthServer,
  type GrpcHealthServer,
} from "../../test/support/grpc-health-server.js";
import { createRecordingSink } from "../../test/support/recording-sink.js";
import { createConsulRegistrar, watchConsul } from "./consul.js";
import { parseEndpointUri, type ConsulTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSink, EndpointSource } from "./endpoint-watch.js";
import type { Registrar, ServiceInstance } from "./registrar.js";

const agentAddress = (process.env.CONSUL_HTTP_ADDR ?? "")
  .replace(/^http:\/\//, "")
  .replace(/\/+$/, "");
const checkHost = process.env.CONSUL_TEST_CHECK_HOST ?? "127.0.0.1";
const POLL = { timeout: 20_000, interval: 100 };
const cleanups: (() => Promise<void>)[] = [];
const registrars: Registrar[] = [];
let serviceCounter = 0;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  // Whatever a failed test left in the agent goes too.
  for (const registrar of registrars) await registrar.deregister().catch(() => undefined);
});

describe.skipIf(!process.env.CONSUL_HTTP_ADDR)(
  "consul:// against the agent at CONSUL_HTTP_ADDR",
  () => {
    it("CONSUL_HTTP_ADDR is a plain-HTTP host:port, as consul:// URIs name agents", () => {
      expect(process.env.CONSUL_HTTP_ADDR ?? "").not.toMatch(/^https:/);
      expect(agentAddress).toMatch(/^[^/]+:\d+$/);
    });

    it("registers the instance with region/zone tags, meta and a gRPC check the agent runs", async () => {
      const service = uniqueService();
      const health = await healthServer("SERVING");
      const registrar = register(
        target(service, "?tag=canary&check_interval=2s&deregister_after=90s"),
        instance(`${service}-a`, health),
      );
      await registrar.register();

      const stored = await agentJson(`/v1/agent/service/${service}-a`);
      expect(stored).toMatchObject({
        ID: `${service}-a`,
        Service: service,
        Address: checkHost,
        Port: health.port,
        Tags: ["region:eu-west", "zone:eu-west-1a", "canary"],
        Meta: { region: "eu-west", zone: "eu-west-1a", kind: "coordinator" },
      });
      const checkOf = async () =>
        Object.values(await agentJson("/v1/agent/checks")).find(
          (check) => (check as Record<string, unknown>).ServiceID === `${service}-a`,
        ) as Record<string, unknown> | undefined;
      expect(await checkOf()).toMatchObject({
        Type: "grpc",
        Name: `scalemesh grpc health of ${service}-a`,
      });
      await expect.poll(async () => (await checkOf())?.Status, POLL).toBe("passing");
    });

    it("lists only passing instances, and follows one going NOT_SERVING and back", async () => {
      const service = uniqueService();
      const [a, b] = [await healthServer("SERVING"), await healthServer("SERVING")];
      await register(target(service), instance(`${service}-a`, a)).register();
      await register(target(service), {
        ...instance(`${service}-b`, b),
        region: "us-east",
        zone: "us-east-1b",
      }).register();
      const sink = createRecordingSink();
      watch(target(service), sink);

      await expect
        .poll(() => byId(sink.latest()), POLL)
        .toEqual([
          {
            address: `${checkHost}:${a.port}`,
            priority: 0,
            weight: 1,
            id: `${service}-a`,
            region: "eu-west",
            zone: "eu-west-1a",
          },
          {
            address: `${checkHost}:${b.port}`,
            priority: 0,
            weight: 1,
            id: `${service}-b`,
            region: "us-east",
            zone: "us-east-1b",
          },
        ]);
      b.setStatus("NOT_SERVING");
      await expect.poll(() => byId(sink.latest()).map((e) => e.id), POLL).toEqual([`${service}-a`]);
      b.setStatus("SERVING");
      await expect
        .poll(() => byId(sink.latest()).map((e) => e.id), POLL)
        .toEqual([`${service}-a`, `${service}-b`]);
    }, 60_000);

    it("waits on blocking queries rather than polling", async () => {
      const service = uniqueService();
      const health = await healthServer("SERVING");
      await register(target(service), instance(`${service}-a`, health)).register();
      const proxy = await countingProxy();
      const sink = createRecordingSink();
      watch(target(service, "", proxy.address), sink);
      await expect.poll(() => sink.latest().length, POLL).toBe(1);
      await expect.poll(() => proxy.open(), POLL).toBe(1);

      const before = proxy.requests.length;
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a quiet second: nothing changes, so nothing should be asked
      expect(proxy.requests.length - before).toBeLessThanOrEqual(1);
      const held = new URL(proxy.requests.at(-1) ?? "", "http://agent").searchParams;
      expect(Number(held.get("index"))).toBeGreaterThan(0);
      expect(held.get("wait")).toBe("30s");
    }, 60_000);

    it("close() with a blocking query in flight hangs it up", async () => {
      const proxy = await countingProxy();
      const sink = createRecordingSink();
      const source = watchConsul(target(uniqueService(), "", proxy.address), sink, {});
      await expect.poll(() => proxy.open(), POLL).toBe(1);
      const publishedBeforeClose = sink.published.length;

      await source.close();
      await expect.poll(() => proxy.abandoned(), POLL).toBe(1);
      expect(sink.published.length).toBe(publishedBeforeClose);
    }, 30_000);

    it("deregisters, and a second deregister is harmless", async () => {
      const service = uniqueService();
      const health = await healthServer("SERVING");
      const registrar = register(target(service), instance(`${service}-a`, health));
      await registrar.register();
      const sink = createRecordingSink();
      watch(target(service), sink);
      await expect.poll(() => sink.latest().length, POLL).toBe(1);

      await registrar.deregister();
      await expect.poll(() => sink.latest().length, POLL).toBe(0);
      await expect(registrar.deregister()).resolves.toBeUndefined();
    }, 60_000);

    // Consul raises deregister_after to at least 1 minute and reaps every 30 s.
    it("lets the agent remove an instance critical for longer than deregister_after", async () => {
      const service = uniqueService();
      const health = await healthServer("NOT_SERVING");
      const registrar = register(
        target(service, "?check_interval=1s&deregister_after=1m"),
        instance(`${service}-a`, health),
      );
      await registrar.register();

      await expect
        .poll(
          async () => Object.keys(await agentJson("/v1/agent/services")).includes(`${service}-a`),
          { timeout: 150_000, interval: 1_000 },
        )
        .toBe(false);
      await expect(registrar.deregister()).resolves.toBeUndefined();
    }, 180_000);
  },
);

// ---- fixtures ----

function uniqueService(): string {
  serviceCounter += 1;
  return `scalemesh-realtest-${process.pid}-${serviceCounter}`;
}

function target(service: string, query = "?check_interval=1s", agent = agentAddress): ConsulTarget {
  const parsed = parseEndpointUri(`consul://${agent}/${service}${query}`);
  if (!parsed.ok || parsed.scheme !== "consul")
    throw new Error(`CONSUL_HTTP_ADDR=${agent} does not make a consul:// URI`);
  return parsed;
}

function instance(id: string, server: GrpcHealthServer): ServiceInstance {
  return {
    id,
    host: checkHost,
    port: server.port,
    region: "eu-west",
    zone: "eu-west-1a",
    meta: { kind: "coordinator" },
    check: { kind: "grpc", address: `${checkHost}:${server.port}` },
  };
}

function register(consulTarget: ConsulTarget, serviceInstance: ServiceInstance): Registrar {
  const registrar = createConsulRegistrar(consulTarget, serviceInstance, {});
  registrars.push(registrar);
  return registrar;
}

async function agentJson(path: string): Promise<Record<string, unknown>> {
  const token = process.env.CONSUL_HTTP_TOKEN;
  const response = await fetch(`http://${agentAddress}${path}`, {
    headers: token ? { "X-Consul-Token": token } : {},
  });
  if (!response.ok)
    throw new Error(`GET ${path} from the agent: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

async function healthServer(initial: ServingStatus): Promise<GrpcHealthServer> {
  const server = await startGrpcHealthServer(initial, {
    host: checkHost === "127.0.0.1" ? "127.0.0.1" : "0.0.0.0",
  });
  cleanups.push(() => server.close());
  return server;
}

/** Forwards to the agent, remembering each request's path and whether the client hung up before the answer. */
async function countingProxy(): Promise<{
  address: string;
  requests: string[];
  open(): number;
  abandoned(): number;
}> {
  const colon = agentAddress.lastIndexOf(":");
  const requests: string[] = [];
  let open = 0;
  let abandoned = 0;
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    open += 1;
    const upstream = httpRequest(
      {
        host: agentAddress.slice(0, colon),
        port: Number(agentAddress.slice(colon + 1)),
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
    res.on("close", () => {
      open -= 1;
      if (!res.writableFinished) {
        abandoned += 1;
        upstream.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    open: () => open,
    abandoned: () => abandoned,
  };
}

function watch(consulTarget: ConsulTarget, sink: EndpointSink): EndpointSource {
  const source = watchConsul(consulTarget, sink, {});
  cleanups.push(() => source.close());
  return source;
}

function byId(endpoints: readonly DiscoveredEndpoint[]): DiscoveredEndpoint[] {
  return [...endpoints].sort((x, y) => (x.id ?? "").localeCompare(y.id ?? ""));
}
