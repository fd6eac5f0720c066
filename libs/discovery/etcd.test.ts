// etcd:// against a real etcd (test/support/etcd-server.ts): registrations,
// hand-written and unreadable keys, lease expiry of a SIGKILLed process,
// re-registration after a lost lease, and an etcd restart.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Etcd3 } from "etcd3";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, startEtcdServer, type EtcdServer } from "../../test/support/etcd-server.js";
import { createRecordingSink } from "../../test/support/recording-sink.js";
import { createRegistrar } from "./create-registrar.js";
import { createEndpointResolver } from "./endpoint-resolver.js";
import { parseEndpointUri, type EtcdTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSource } from "./endpoint-watch.js";
import { createEtcdRegistrar, retryDelayMs, watchEtcd } from "./etcd.js";
import type { Registrar, ServiceInstance } from "./registrar.js";

const WAIT_MS = 15_000;

let etcd: EtcdServer;
let admin: Etcd3;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  etcd = await startEtcdServer();
  admin = new Etcd3({ hosts: [`http://${etcd.clientAddress}`] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  admin?.close();
  await etcd?.close();
});

describe("etcd:// registrar and watcher", () => {
  it("sees a registration with its region and zone, a second one, and a deregistration", async () => {
    const target = etcdTarget(etcd, "/t-register/coordinator", 2);
    const first = track(
      createEtcdRegistrar(target, instance("coord-a", 7001, "eu-west", "eu-west-1a"), {}),
    );
    await first.register();
    expect(
      JSON.parse((await admin.get("/t-register/coordinator/coord-a").string()) ?? "null"),
    ).toEqual({
      address: "127.0.0.1:7001",
      region: "eu-west",
      zone: "eu-west-1a",
      meta: { kind: "coordinator" },
    });

    const seen = createRecordingSink();
    track(watchEtcd(target, seen, {}));
    expect(seen.published).toHaveLength(0); // never published from inside the call
    await seen.waitForLatest("the first registration", (set) => set.length === 1);
    expect(seen.latest()).toEqual([
      {
        address: "127.0.0.1:7001",
        priority: 0,
        weight: 1,
        id: "coord-a",
        region: "eu-west",
        zone: "eu-west-1a",
      },
    ]);

    const second = track(
      createEtcdRegistrar(target, instance("coord-b", 7002, "eu-west", "eu-west-1b"), {}),
    );
    await second.register();
    await seen.waitForLatest(
      "the second registration",
      (set) => addresses(set).join() === "127.0.0.1:7001,127.0.0.1:7002",
    );

    await first.deregister();
    await first.deregister(); // idempotent
    await seen.waitForLatest(
      "the set without the deregistered instance",
      (set) => addresses(set).join() === "127.0.0.1:7002",
    );
    expect(await admin.get("/t-register/coordinator/coord-a").string()).toBeNull();
  });

  it("keeps a registration alive past its lease's ttl", async () => {
    const target = etcdTarget(etcd, "/t-keepalive/coordinator", 2);
    await track(createEtcdRegistrar(target, instance("coord-a", 7001), {})).register();
    const seen = createRecordingSink();
    track(watchEtcd(target, seen, {}));
    await seen.waitForLatest("the registration", (set) => set.length === 1);
    // Time has to pass here: three ttls without keepalives would have expired the lease.
    await new Promise((resolve) => setTimeout(resolve, 3 * target.ttlSec * 1000));
    expect(addresses(seen.latest())).toEqual(["127.0.0.1:7001"]);
    expect(await admin.get("/t-keepalive/coordinator/coord-a").string()).not.toBeNull();
  });

  it("reads a hand-written host:port key and ignores, warning once, a value it cannot read", async () => {
    const prefix = "/t-manual/balancer/";
    await admin.put(`${prefix}by-hand`).value("10.0.0.7:7080");
    await admin.put(`${prefix}garbage`).value("not an endpoint");
    const log = capturingLogger();
    const seen = createRecordingSink();
    track(watchEtcd(etcdTarget(etcd, prefix), seen, { logger: log.logger }));
    await seen.waitForLatest("the hand-written endpoint", (set) => set.length === 1);
    expect(seen.latest()).toEqual([
      { address: "10.0.0.7:7080", priority: 0, weight: 1, id: "by-hand" },
    ]);

    // Another unreadable value for the same key, then a good key: the watch
    // keeps going, the bad key stays out and is not warned about again.
    await admin.put(`${prefix}garbage`).value('{"address":"no port"}');
    await admin.put(`${prefix}later`).value('{"address":"10.0.0.8:7080","zone":"z1"}');
    await seen.waitForLatest("the endpoint written while watching", (set) => set.length === 2);
    expect(seen.latest()).toContainEqual({
      address: "10.0.0.8:7080",
      priority: 0,
      weight: 1,
      id: "later",
      zone: "z1",
    });
    expect(addresses(seen.latest())).not.toContain("no port");
    expect(
      log.lines.filter((line) => line.level === 40 && line.key === `${prefix}garbage`),
    ).toHaveLength(1);

    // Overwriting a good key with garbage takes it out of the set.
    await admin.put(`${prefix}by-hand`).value("garbage");
    await seen.waitForLatest(
      "the set without the overwritten key",
      (set) => addresses(set).join() === "10.0.0.8:7080",
    );
  });

  it("drops an instance whose process was SIGKILLed once its lease runs out", async () => {
    const prefix = "/t-sigkill/worker/";
    const ttlSec = 2;
    const seen = createRecordingSink();
    track(watchEtcd(etcdTarget(etcd, prefix), seen, {}));
    await seen.waitForLatest("the empty prefix", (set) => set.length === 0);

    const holder = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "../../test/support/etcd-lease-holder.mjs"),
        etcd.clientAddress,
        `${prefix}doomed`,
        "127.0.0.1:7100",
        String(ttlSec),
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    cleanups.push(async () => {
      holder.kill("SIGKILL");
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      const stderr: string[] = [];
      holder.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
      createInterface({ input: holder.stdout }).on(
        "line",
        (line) => line === "registered" && resolve(),
      );
      holder.once("exit", (code) =>
        reject(new Error(`lease holder exited (${code}) before registering: ${stderr.join("")}`)),
      );
    });
    await seen.waitForLatest(
      "the lease holder's endpoint",
      (set) => addresses(set).join() === "127.0.0.1:7100",
    );

    holder.kill("SIGKILL");
    await exited;
    await seen.waitForLatest(
      "the set without the killed instance",
      (set) => set.length === 0,
      ttlSec * 1000 + 8_000,
    );
  });

  it("registers again on a new lease when etcd revokes the one it had", async () => {
    const target = etcdTarget(etcd, "/t-lost/coordinator", 2);
    const log = capturingLogger();
    await track(
      createEtcdRegistrar(target, instance("coord-a", 7001), { logger: log.logger }),
    ).register();
    const before = await admin.getAll().prefix(target.prefix).exec();
    const leaseId = before.kvs[0]?.lease;
    expect(leaseId).toBeDefined();

    const seen = createRecordingSink();
    track(watchEtcd(target, seen, {}));
    await seen.waitForLatest("the registration", (set) => set.length === 1);
    await admin.leaseClient.leaseRevoke({ ID: leaseId as string });
    await seen.waitForLatest("the revoked registration gone", (set) => set.length === 0);
    await seen.waitForLatest(
      "the registration back on a new lease",
      (set) => addresses(set).join() === "127.0.0.1:7001",
    );

    const after = await admin.getAll().prefix(target.prefix).exec();
    expect(after.kvs[0]?.lease).not.toBe(leaseId);
    expect(
      log.lines.some((line) => line.level === 40 && String(line.msg).includes("lease lost")),
    ).toBe(true);
  });

  it("works through createRegistrar and createEndpointResolver", async () => {
    const uri = etcd.uri("/t-uri/balancer", 3);
    const made = createRegistrar(uri, instance("balancer-1", 7201, "us-east", "us-east-1c"));
    if (!made.ok) throw new Error(made.error);
    await track(made.registrar).register();
    expect(made.registrar.uri).toBe(uri);
    const resolver = createEndpointResolver(uri);
    cleanups.push(() => resolver.close());
    expect(await resolver.firstAnswer(WAIT_MS)).toEqual([
      {
        address: "127.0.0.1:7201",
        priority: 0,
        weight: 1,
        id: "balancer-1",
        region: "us-east",
        zone: "us-east-1c",
      },
    ]);
  });

  it("publishes nothing after close()", async () => {
    const target = etcdTarget(etcd, "/t-close/coordinator");
    const closed = createRecordingSink();
    const source = watchEtcd(target, closed, {});
    await closed.waitForLatest("the empty prefix", (set) => set.length === 0);
    await source.close();
    await source.close();

    const open = createRecordingSink();
    track(watchEtcd(target, open, {}));
    await open.waitForLatest("the empty prefix", (set) => set.length === 0);
    await admin.put(`${target.prefix}x`).value("127.0.0.1:7300");
    // The open watcher hearing the put means the closed one would have heard it too.
    await open.waitForLatest("the new key", (set) => set.length === 1);
    expect(closed.published).toHaveLength(1);
    expect(closed.failures).toEqual([]);
  });

  it("rejects register() naming the host when nothing listens there, and deregisters safely after", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const target = parseTarget(`etcd://${address}/t-refused/coordinator`);
    const registrar = createEtcdRegistrar(target, instance("coord-a", 7001), {});
    const first = registrar.register();
    expect(registrar.register()).toBe(first); // a second call joins the one under way
    await expect(first).rejects.toThrow(
      new RegExp(
        `could not register coord-a as /t-refused/coordinator/coord-a in etcd at ${address}.*ECONNREFUSED`,
      ),
    );
    const again = registrar.register();
    expect(again).not.toBe(first); // a failed attempt is not remembered as the verdict
    await expect(again).rejects.toThrow(/could not register/);
    await registrar.deregister();
    await registrar.deregister();
  });

  it("reports an unreachable etcd naming the host and prefix", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const seen = createRecordingSink();
    track(watchEtcd(parseTarget(`etcd://${address}/t-refused/coordinator`), seen, {}));
    await seen.waitFor("a failure naming the host", () =>
      seen.failures.some(
        (message) =>
          message.includes(`etcd at ${address}`) && message.includes("/t-refused/coordinator/"),
      ),
    );
    expect(seen.failures[0]).toMatch(/unreachable/);
    expect(seen.published).toHaveLength(0);
  });
});

describe("etcd:// watcher across an etcd restart", () => {
  let restarting: EtcdServer;
  beforeAll(async () => {
    restarting = await startEtcdServer();
  });
  afterAll(async () => {
    await restarting?.close();
  });

  it("fails while etcd is down, naming the host, and publishes again once it is back", async () => {
    const target = etcdTarget(restarting, "/t-restart/coordinator");
    const writer = new Etcd3({ hosts: [`http://${restarting.clientAddress}`] });
    cleanups.push(() => writer.close());
    await writer.put(`${target.prefix}steady`).value("127.0.0.1:7400");
    const seen = createRecordingSink();
    track(watchEtcd(target, seen, {}));
    await seen.waitForLatest("the steady key", (set) => set.length === 1);

    await restarting.stop();
    await seen.waitFor("a failure naming the host", () =>
      seen.failures.some((message) => message.includes(`etcd at ${restarting.clientAddress}`)),
    );
    const publishedWhileDown = seen.published.length;

    await restarting.start();
    await seen.waitFor(
      "a publish after the restart",
      () => seen.published.length > publishedWhileDown,
    );
    expect(addresses(seen.latest())).toEqual(["127.0.0.1:7400"]);

    // The watch is live again, not just the read.
    await writer.put(`${target.prefix}new`).value("127.0.0.1:7401");
    await seen.waitForLatest("a key written after the restart", (set) => set.length === 2);
  });
});

describe("retryDelayMs", () => {
  // The curve is libs/backoff's; here the floor and the 5 s bound README.md promises.
  it.each([
    { failures: 1, longestMs: 999 },
    { failures: 2, longestMs: 1499 },
    { failures: 3, longestMs: 2499 },
    { failures: 4, longestMs: 4499 },
    { failures: 5, longestMs: 4999 },
    { failures: 1_000, longestMs: 4999 },
  ])(
    "waits 0.5 s at the least and below 5 s at the most ($failures failures: up to $longestMs ms)",
    ({ failures, longestMs }) => {
      expect(retryDelayMs(failures, () => 0)).toBe(500);
      expect(retryDelayMs(failures, () => 0.999999)).toBe(longestMs);
    },
  );
});

function etcdTarget(server: EtcdServer, prefix: string, ttlSec?: number): EtcdTarget {
  return parseTarget(server.uri(prefix.replace(/\/$/, ""), ttlSec));
}

function parseTarget(uri: string): EtcdTarget {
  const parsed = parseEndpointUri(uri);
  if (!parsed.ok || parsed.scheme !== "etcd") throw new Error(`not an etcd URI: ${uri}`);
  return parsed;
}

function instance(id: string, port: number, region = "r1", zone = "z1"): ServiceInstance {
  return {
    id,
    host: "127.0.0.1",
    port,
    region,
    zone,
    meta: { kind: "coordinator" },
    check: { kind: "grpc", address: `127.0.0.1:${port}` },
  };
}

function addresses(set: readonly DiscoveredEndpoint[] | undefined): string[] {
  return (set ?? []).map((endpoint) => endpoint.address).sort();
}

/** Closes watchers and deregisters registrars after each test, even a failed one. */
function track<T extends EndpointSource | Registrar>(thing: T): T {
  cleanups.push(() => ("close" in thing ? thing.close() : thing.deregister()));
  return thing;
}

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: pino({ level: "debug" }, stream) };
}
