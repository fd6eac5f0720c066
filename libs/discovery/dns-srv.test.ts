// watchDnsSrv against a real dnsmasq (test/support/dnsmasq.ts) on 127.0.0.1.
import { createSocket, type Socket } from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDnsmasq, type Dnsmasq, type DnsRecords } from "../../test/support/dnsmasq.js";
import { createRecordingSink } from "../../test/support/recording-sink.js";
import { MIN_RESOLVE_GAP_MS, nextResolveDelayMs, watchDnsSrv } from "./dns-srv.js";
import { createEndpointResolver } from "./endpoint-resolver.js";
import type { DnsSrvTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSource, WatchOptions } from "./endpoint-watch.js";

const COORDINATOR = "_coordinator._tcp.mesh.test";
const WAIT_MS = 15_000;

const BASE_RECORDS: DnsRecords = {
  srv: [
    { name: COORDINATOR, target: "b.mesh.test", port: 7071, priority: 20, weight: 1 },
    { name: COORDINATOR, target: "a.mesh.test", port: 7070, priority: 10, weight: 5 },
    { name: "_mixed._tcp.mesh.test", target: "v6.mesh.test", port: 7072 },
    { name: "_mixed._tcp.mesh.test", target: "127.0.0.5", port: 7073 },
    { name: "_mixed._tcp.mesh.test", target: "nowhere.mesh.test", port: 7074 },
    { name: "_mixed._tcp.mesh.test", target: "multi.mesh.test", port: 7075 },
    { name: "_weighted._tcp.mesh.test", target: "y.mesh.test", port: 7081, priority: 1, weight: 3 },
    { name: "_weighted._tcp.mesh.test", target: "x.mesh.test", port: 7080, priority: 1, weight: 1 },
  ],
  addresses: [
    { name: "a.mesh.test", address: "127.0.0.2" },
    { name: "b.mesh.test", address: "127.0.0.3" },
    { name: "v6.mesh.test", address: "::1" },
    { name: "multi.mesh.test", address: "127.0.0.6" },
    { name: "multi.mesh.test", address: "127.0.0.7" },
    { name: "x.mesh.test", address: "127.0.0.8" },
    { name: "y.mesh.test", address: "127.0.0.9" },
  ],
};

const A_ENDPOINT = { address: "127.0.0.2:7070", priority: 10, weight: 5, id: "a.mesh.test:7070" };
const B_ENDPOINT = { address: "127.0.0.3:7071", priority: 20, weight: 1, id: "b.mesh.test:7071" };

const addresses = (endpoints: readonly DiscoveredEndpoint[]) => endpoints.map((e) => e.address);
/** An observation window for "nothing more happens": there is no event to await for an absence. */
const observe = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const sources: EndpointSource[] = [];
const servers: Dnsmasq[] = [];
const sockets: Socket[] = [];

function watch(target: Partial<DnsSrvTarget> & { server: string }, options: WatchOptions = {}) {
  const recording = createRecordingSink();
  const source = watchDnsSrv(
    { scheme: "dns+srv", name: COORDINATOR, intervalSec: 30, ...target },
    recording,
    options,
  );
  sources.push(source);
  /** The first published set that matches, skipping the first `after` sets. */
  const nextPublish = (
    matching: (endpoints: readonly DiscoveredEndpoint[]) => boolean = () => true,
    after = 0,
  ) => recording.waitFor("matching publish", () => recording.published.slice(after).find(matching));
  return { ...recording, source, nextPublish };
}

async function ownDnsmasq(records: DnsRecords, ttlSec?: number): Promise<Dnsmasq> {
  const server = await startDnsmasq(records, ttlSec === undefined ? {} : { ttlSec });
  servers.push(server);
  return server;
}

/** A UDP socket that takes DNS queries and never answers; resolves each received query. */
async function blackhole(): Promise<{
  server: string;
  received: () => number;
  nextQuery: () => Promise<void>;
}> {
  const socket = createSocket("udp4");
  sockets.push(socket);
  let count = 0;
  const waiting: (() => void)[] = [];
  socket.on("message", () => {
    count += 1;
    waiting.splice(0).forEach((resolve) => resolve());
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    received: () => count,
    nextQuery: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

async function closedUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

describe("nextResolveDelayMs", () => {
  it.each([
    { name: "no TTL seen: the interval", intervalSec: 30, minTtlSec: undefined, expected: 30_000 },
    {
      name: "a TTL shorter than the interval wins",
      intervalSec: 30,
      minTtlSec: 5,
      expected: 5_000,
    },
    {
      name: "a TTL longer than the interval does not stretch it",
      intervalSec: 30,
      minTtlSec: 300,
      expected: 30_000,
    },
    {
      name: "TTL 0 is held to the minimum gap",
      intervalSec: 30,
      minTtlSec: 0,
      expected: MIN_RESOLVE_GAP_MS,
    },
    {
      name: "a sub-second interval is held to the minimum gap",
      intervalSec: 0.2,
      minTtlSec: undefined,
      expected: MIN_RESOLVE_GAP_MS,
    },
  ])("$name", ({ intervalSec, minTtlSec, expected }) => {
    expect(nextResolveDelayMs(intervalSec, minTtlSec)).toBe(expected);
  });
});

describe("watchDnsSrv against a real dnsmasq", () => {
  let dns: Dnsmasq;

  beforeAll(async () => {
    dns = await startDnsmasq(BASE_RECORDS);
  });

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(
      sockets
        .splice(0)
        .map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
    );
  });

  afterAll(async () => {
    await dns?.close();
  });

  it("publishes each SRV target's address with its port, priority, weight and id, lowest priority first", async () => {
    const watcher = watch({ server: dns.server });
    const endpoints = await watcher.nextPublish();
    expect(endpoints).toEqual([A_ENDPOINT, B_ENDPOINT]);
  });

  it("publishes nothing synchronously inside the watch call", () => {
    const watcher = watch({ server: dns.server });
    expect(watcher.events).toEqual([]);
  });

  it.each([
    {
      target: "an AAAA-only target, in brackets",
      id: "v6.mesh.test:7072",
      expected: ["[::1]:7072"],
    },
    {
      target: "an IP literal target, as it is",
      id: "127.0.0.5:7073",
      expected: ["127.0.0.5:7073"],
    },
    {
      target: "a target without address records, as its host name",
      id: "nowhere.mesh.test:7074",
      expected: ["nowhere.mesh.test:7074"],
    },
    {
      target: "a target with two A records, both",
      id: "multi.mesh.test:7075",
      expected: ["127.0.0.6:7075", "127.0.0.7:7075"],
    },
  ])("resolves $target through the same server", async ({ id, expected }) => {
    const watcher = watch({ server: dns.server, name: "_mixed._tcp.mesh.test" });
    const endpoints = await watcher.nextPublish();
    expect(addresses(endpoints.filter((e) => e.id === id)).sort()).toEqual(expected);
  });

  it.each([
    { draw: 0, expected: ["127.0.0.8:7080", "127.0.0.9:7081"] },
    { draw: 0.99, expected: ["127.0.0.9:7081", "127.0.0.8:7080"] },
  ])(
    "orders one priority by weight from the injected random source (draw $draw)",
    async ({ draw, expected }) => {
      const watcher = watch(
        { server: dns.server, name: "_weighted._tcp.mesh.test" },
        { random: () => draw },
      );
      expect(addresses(await watcher.nextPublish())).toEqual(expected);
    },
  );

  it.each([
    { name: "_absent._tcp.mesh.test", answer: "NXDOMAIN" },
    { name: "a.mesh.test", answer: "no SRV data for an existing name" },
  ])("publishes an empty set for a name with no SRV records ($answer)", async ({ name }) => {
    const watcher = watch({ server: dns.server, name });
    expect(await watcher.nextPublish()).toEqual([]);
    expect(watcher.failures).toEqual([]);
  });

  it("works behind a parsed dns+srv:// URI and an EndpointResolver", async () => {
    const resolver = createEndpointResolver(
      `dns+srv://${dns.server}/${COORDINATOR}?interval_sec=5`,
    );
    sources.push(resolver);
    expect(addresses(await resolver.firstAnswer(WAIT_MS))).toEqual([
      "127.0.0.2:7070",
      "127.0.0.3:7071",
    ]);
  });

  it("publishes the smaller set when a record is removed, at interval_sec=1", async () => {
    const own = await ownDnsmasq(BASE_RECORDS);
    const watcher = watch({ server: own.server, intervalSec: 1 });
    expect(await watcher.nextPublish()).toEqual([A_ENDPOINT, B_ENDPOINT]);
    const before = watcher.published.length;
    await own.setRecords({
      ...BASE_RECORDS,
      srv: BASE_RECORDS.srv?.filter((r) => r.target !== "a.mesh.test"),
    });
    expect(await watcher.nextPublish((endpoints) => endpoints.length === 1, before)).toEqual([
      B_ENDPOINT,
    ]);
  });

  it("re-resolves when the address TTL runs out, long before interval_sec", async () => {
    const own = await ownDnsmasq(BASE_RECORDS, 1);
    const watcher = watch({ server: own.server, intervalSec: 3600 });
    expect(addresses(await watcher.nextPublish())).toEqual(["127.0.0.2:7070", "127.0.0.3:7071"]);
    const moved = BASE_RECORDS.addresses?.map((r) =>
      r.name === "a.mesh.test" ? { ...r, address: "127.0.0.12" } : r,
    );
    // A reload, not a restart: no failed round may trigger the retry instead.
    expect(await own.setRecords({ ...BASE_RECORDS, addresses: moved })).toBe("reloaded");
    const endpoints = await watcher.nextPublish((e) =>
      e.some((endpoint) => endpoint.address === "127.0.0.12:7070"),
    );
    expect(addresses(endpoints)).toEqual(["127.0.0.12:7070", "127.0.0.3:7071"]);
    expect(watcher.failures).toEqual([]);
  });

  it("refresh() asks again soon, long before interval_sec", async () => {
    const own = await ownDnsmasq(BASE_RECORDS);
    const watcher = watch({ server: own.server, intervalSec: 3600 });
    await watcher.nextPublish();
    const before = watcher.published.length;
    await own.setRecords({
      ...BASE_RECORDS,
      srv: BASE_RECORDS.srv?.filter((r) => r.target !== "b.mesh.test"),
    });
    watcher.source.refresh();
    watcher.source.refresh(); // debounced into one round
    expect(await watcher.nextPublish(() => true, before)).toEqual([A_ENDPOINT]);
  });

  it("reports a failure naming the SRV name and the server when dnsmasq stops, and publishes nothing else", async () => {
    const own = await ownDnsmasq(BASE_RECORDS);
    const watcher = watch({ server: own.server, intervalSec: 1 });
    const firstSet = await watcher.nextPublish();
    await own.stop();
    const error = await watcher.waitFor("failure", () => watcher.failures[0]);
    expect(error).toContain(COORDINATOR);
    expect(error).toContain(own.server);
    // A round that started before the stop may still publish, but only the old set.
    for (const endpoints of watcher.published) expect(endpoints).toEqual(firstSet);
    // It keeps retrying: the server coming back is noticed without help.
    const before = watcher.published.length;
    await own.setRecords(BASE_RECORDS);
    expect(await watcher.nextPublish(() => true, before)).toEqual(firstSet);
  });

  it("reports a failure and publishes nothing when nothing listens at the server", async () => {
    const server = `127.0.0.1:${await closedUdpPort()}`;
    const watcher = watch({ server });
    const error = await watcher.waitFor("failure", () => watcher.failures[0]);
    expect(error).toContain(COORDINATOR);
    expect(error).toContain(server);
    expect(watcher.published).toEqual([]);
  });

  it("after close() publishes nothing and sends no more queries", async () => {
    const own = await ownDnsmasq(BASE_RECORDS);
    const watcher = watch({ server: own.server, intervalSec: 1 });
    await watcher.nextPublish();
    // Let the round end, so close() meets the timer of the next one.
    await new Promise((resolve) => setImmediate(resolve));
    await watcher.source.close();
    const events = watcher.events.length;
    const queries = own.queryCount();
    watcher.source.refresh();
    await observe(2.5 * MIN_RESOLVE_GAP_MS);
    expect(watcher.events.length).toBe(events);
    expect(own.queryCount()).toBe(queries);
  });

  it("close() during an unanswered query cancels it without reporting anything", async () => {
    const hole = await blackhole();
    const watcher = watch({ server: hole.server });
    await hole.nextQuery();
    const received = hole.received();
    await watcher.source.close();
    // The resolver would retry after its 2 s timeout if the query were still alive.
    await observe(2.5 * MIN_RESOLVE_GAP_MS);
    expect(watcher.events).toEqual([]);
    expect(hole.received()).toBe(received);
  });
});
