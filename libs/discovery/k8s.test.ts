import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeKubeApi, type FakeEndpoint, type FakeEndpointPort, type FakeEndpointSlice, type FakeKubeApi } from "../../test/support/fake-kube-api.js";
import type { K8sTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSink, EndpointSource } from "./endpoint-watch.js";
import { createK8sWatch, endpointsFromSlices, watchK8s, type EndpointSliceView } from "./k8s.js";

// --- fixtures ---------------------------------------------------------------

const GRPC: FakeEndpointPort = { name: "grpc", port: 7070, protocol: "TCP" };
const METRICS: FakeEndpointPort = { name: "metrics", port: 9090, protocol: "TCP" };

function pod(ip: string, name: string, extra: Partial<FakeEndpoint> = {}): FakeEndpoint {
  return { addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: "Pod", namespace: "mesh", name, uid: `uid-${name}` }, ...extra };
}

function slice(name: string, endpoints: FakeEndpoint[], options: { service?: string; ports?: FakeEndpointPort[] | null; addressType?: FakeEndpointSlice["addressType"] } = {}): FakeEndpointSlice {
  return {
    metadata: { name, labels: { "kubernetes.io/service-name": options.service ?? "coordinator", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
    addressType: options.addressType ?? "IPv4",
    endpoints,
    ports: options.ports === undefined ? [GRPC, METRICS] : options.ports,
  };
}

const addresses = (endpoints: readonly DiscoveredEndpoint[]) => endpoints.map((e) => e.address);

// --- the pure mapping ------------------------------------------------------

describe("endpointsFromSlices", () => {
  const cases: { name: string; slices: FakeEndpointSlice[]; port: number | string; expected: DiscoveredEndpoint[] }[] = [
    {
      name: "takes a named port's number and the pod name as id",
      slices: [slice("a", [pod("10.0.0.1", "coordinator-0", { zone: "eu-1a" })])],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "coordinator-0", zone: "eu-1a" }],
    },
    {
      name: "matches a numbered port against the endpoint's port",
      slices: [slice("a", [pod("10.0.0.1", "coordinator-0")])],
      port: 9090,
      expected: [{ address: "10.0.0.1:9090", priority: 0, weight: 1, id: "coordinator-0" }],
    },
    {
      name: "skips slices without the port",
      slices: [slice("a", [pod("10.0.0.1", "p0")]), slice("b", [pod("10.0.0.2", "p1")], { ports: [METRICS] })],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "reads ready nil as ready, and drops not-ready and terminating endpoints",
      slices: [
        slice("a", [
          pod("10.0.0.1", "nil", { conditions: {} }),
          pod("10.0.0.2", "not-ready", { conditions: { ready: false } }),
          pod("10.0.0.3", "terminating", { conditions: { ready: true, terminating: true } }),
          pod("10.0.0.4", "no-conditions", { conditions: undefined }),
        ]),
      ],
      port: 7070,
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "nil" },
        { address: "10.0.0.4:7070", priority: 0, weight: 1, id: "no-conditions" },
      ],
    },
    {
      name: "brackets IPv6 addresses",
      slices: [slice("a", [pod("fd00::1", "p0")], { addressType: "IPv6" })],
      port: "grpc",
      expected: [{ address: "[fd00::1]:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "counts a dual-stack pod once, by its IPv4 address",
      slices: [slice("v6", [pod("fd00::1", "p0"), pod("fd00::2", "p1")], { addressType: "IPv6" }), slice("v4", [pod("10.0.0.1", "p0")])],
      port: "grpc",
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" },
        { address: "[fd00::2]:7070", priority: 0, weight: 1, id: "p1" },
      ],
    },
    {
      name: "ignores FQDN slices, whose semantics the API leaves undefined",
      slices: [slice("a", [{ addresses: ["coordinator.example.com"] }], { addressType: "FQDN" })],
      port: "grpc",
      expected: [],
    },
    {
      name: "uses only an endpoint's first address and the address as id without a targetRef",
      slices: [slice("a", [{ addresses: ["10.0.0.1", "10.0.0.9"] }])],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "10.0.0.1:7070" }],
    },
    {
      name: "lists an endpoint found in two slices once",
      slices: [slice("a", [pod("10.0.0.1", "p0")]), slice("b", [pod("10.0.0.1", "p0")])],
      port: "grpc",
      expected: [{ address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "reads a nil port as all ports for a number, but cannot name one",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [{ name: "grpc", port: null }] })],
      port: 7443,
      expected: [{ address: "10.0.0.1:7443", priority: 0, weight: 1, id: "p0" }],
    },
    {
      name: "has no port for a name whose port is nil",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [{ name: "grpc", port: null }] })],
      port: "grpc",
      expected: [],
    },
    {
      name: "finds nothing when ports is empty (no ports defined)",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [] })],
      port: 7070,
      expected: [],
    },
    {
      name: "ignores UDP ports of the same number",
      slices: [slice("a", [pod("10.0.0.1", "p0")], { ports: [{ name: "dns", port: 53, protocol: "UDP" }] })],
      port: 53,
      expected: [],
    },
    {
      name: "sorts by address",
      slices: [slice("a", [pod("10.0.0.3", "p3"), pod("10.0.0.1", "p1")])],
      port: "grpc",
      expected: [
        { address: "10.0.0.1:7070", priority: 0, weight: 1, id: "p1" },
        { address: "10.0.0.3:7070", priority: 0, weight: 1, id: "p3" },
      ],
    },
  ];
  for (const { name, slices, port, expected } of cases) {
    it(name, () => {
      expect(endpointsFromSlices(slices as EndpointSliceView[], port)).toEqual(expected);
    });
  }
});

// --- against the fake API server -------------------------------------------

interface Recording {
  readonly sink: EndpointSink;
  readonly published: (readonly DiscoveredEndpoint[])[];
  readonly failures: string[];
  latest(): readonly string[] | undefined;
}

function record(): Recording {
  const published: (readonly DiscoveredEndpoint[])[] = [];
  const failures: string[] = [];
  return {
    sink: { publish: (endpoints) => published.push(endpoints), fail: (error) => failures.push(error) },
    published,
    failures,
    latest: () => {
      const last = published.at(-1);
      return last && addresses(last);
    },
  };
}

/** Polls until `check` holds; fails naming `what` after the deadline. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const target = (port: number | string, service = "coordinator", namespace = "mesh"): K8sTarget => ({ scheme: "k8s", namespace, service, port });

describe("watchK8s against a fake API server", () => {
  let api: FakeKubeApi;
  const sources: EndpointSource[] = [];

  const follow = (t: K8sTarget, recording: Recording, options: { watchTimeoutSec?: number } = {}) => {
    const watch = createK8sWatch({ kubeConfig: api.kubeConfig(), minRetryMs: 20, maxRetryMs: 200, ...options });
    const source = watch(t, recording.sink, { random: () => 0 });
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    api = await startFakeKubeApi();
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.close()));
    api.setForbidden(false);
    api.setUnresponsive(false);
    api.setWatchesGone(false);
    await api.start(); // after a test that stopped it and failed before starting it again
  });
  afterAll(async () => {
    await api?.close();
  });

  it("publishes the listed endpoints, then follows added, modified, relabelled and deleted slices without listing again", async () => {
    api.createSlice("mesh", slice("coordinator-a", [pod("10.0.0.1", "c-0"), pod("10.0.0.2", "c-1", { conditions: { ready: false } })]));
    api.createSlice("mesh", slice("other-a", [pod("10.0.9.9", "o-0")], { service: "other" }));
    const listsBefore = api.listCalls;
    const recording = record();
    follow(target("grpc"), recording);

    await until("the first publish", () => recording.published.length > 0);
    expect(recording.latest()).toEqual(["10.0.0.1:7070"]);

    api.createSlice("mesh", slice("coordinator-b", [pod("10.0.0.3", "c-2")]));
    await until("the added slice", () => recording.latest()?.includes("10.0.0.3:7070") === true);

    api.updateSlice("mesh", slice("coordinator-a", [pod("10.0.0.1", "c-0", { conditions: { ready: false } }), pod("10.0.0.2", "c-1")]));
    await until("the modified slice", () => recording.latest()?.join() === "10.0.0.2:7070,10.0.0.3:7070");

    // A slice whose service-name label changes leaves the selector: the watch says DELETED.
    api.updateSlice("mesh", slice("coordinator-b", [pod("10.0.0.3", "c-2")], { service: "other" }));
    await until("the relabelled slice to leave", () => recording.latest()?.join() === "10.0.0.2:7070");

    api.deleteSlice("mesh", "coordinator-a");
    await until("the deleted slice", () => recording.latest()?.length === 0);

    expect(api.listCalls - listsBefore).toBe(1);
    expect(recording.failures).toEqual([]);
    api.deleteSlice("mesh", "coordinator-b");
    api.deleteSlice("mesh", "other-a");
  });

  it("answers a named and a numbered port from the same slices", async () => {
    api.createSlice("ports", slice("balancer-a", [pod("10.1.0.1", "b-0")], { service: "balancer", ports: [{ name: "grpc", port: 7080 }, METRICS] }));
    const byName = record();
    const byNumber = record();
    follow(target("grpc", "balancer", "ports"), byName);
    follow(target(9090, "balancer", "ports"), byNumber);
    await until("both answers", () => byName.published.length > 0 && byNumber.published.length > 0);
    expect(byName.latest()).toEqual(["10.1.0.1:7080"]);
    expect(byNumber.latest()).toEqual(["10.1.0.1:9090"]);
  });

  it("publishes an empty set for a service without slices", async () => {
    const recording = record();
    follow(target("grpc", "nothing-here", "empty"), recording);
    await until("the first publish", () => recording.published.length > 0);
    expect(recording.published).toEqual([[]]);
  });

  it("lists again after 410 Gone and catches up with what changed meanwhile", async () => {
    api.createSlice("gone", slice("coordinator-a", [pod("10.2.0.1", "c-0")]));
    const recording = record();
    follow(target("grpc", "coordinator", "gone"), recording);
    await until("the first publish", () => recording.published.length > 0);
    await until("the watch to open", () => api.openWatches > 0);
    const listsBefore = api.listCalls;

    api.expireHistory();
    await until("a second list and a new watch", () => api.listCalls === listsBefore + 1 && api.openWatches > 0);
    expect(recording.published).toHaveLength(1); // the same set is not published again
    api.updateSlice("gone", slice("coordinator-a", [pod("10.2.0.1", "c-0", { zone: "z1" })]));
    await until("the change through the new watch", () => recording.published.at(-1)?.[0]?.zone === "z1");

    api.expireHistory();
    api.createSlice("gone", slice("coordinator-b", [pod("10.2.0.2", "c-1")]));
    await until("the new slice", () => recording.latest()?.join() === "10.2.0.1:7070,10.2.0.2:7070");
    await until("a third list", () => api.listCalls > listsBefore + 1);

    // And it still follows changes afterwards, from the new list's version.
    api.deleteSlice("gone", "coordinator-a");
    await until("the deletion after the re-list", () => recording.latest()?.join() === "10.2.0.2:7070");
    expect(recording.failures).toEqual([]);
  });

  it("reports a server that expires every watch right after its list, instead of listing in a loop", async () => {
    api.createSlice("always-gone", slice("coordinator-a", [pod("10.8.0.1", "c-0")]));
    api.setWatchesGone(true);
    const recording = record();
    follow(target("grpc", "coordinator", "always-gone"), recording);
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("410 Gone");
    expect(recording.failures[0]).toContain("k8s://always-gone/coordinator:grpc");
    expect(recording.latest()).toEqual(["10.8.0.1:7070"]); // the lists themselves answered

    api.setWatchesGone(false);
    api.createSlice("always-gone", slice("coordinator-b", [pod("10.8.0.2", "c-1")]));
    await until("recovery", () => recording.latest()?.length === 2);
  });

  it("renews a watch the server ended (timeoutSeconds) from the last version, without listing again", async () => {
    api.createSlice("renew", slice("coordinator-a", [pod("10.3.0.1", "c-0")]));
    const recording = record();
    const watchesBefore = api.watchCalls;
    follow(target("grpc", "coordinator", "renew"), recording, { watchTimeoutSec: 1 });
    await until("the first publish", () => recording.published.length > 0);
    const listsAfterStart = api.listCalls;
    await until("a renewed watch", () => api.watchCalls >= watchesBefore + 2 && api.openWatches > 0);

    api.createSlice("renew", slice("coordinator-b", [pod("10.3.0.2", "c-1")]));
    await until("the change seen by the renewed watch", () => recording.latest()?.length === 2);
    expect(api.listCalls).toBe(listsAfterStart);
    expect(recording.failures).toEqual([]);
  });

  it("reports a refusal by RBAC with the API's reason, and recovers once allowed", async () => {
    api.createSlice("rbac", slice("coordinator-a", [pod("10.4.0.1", "c-0")]));
    api.setForbidden(true);
    const recording = record();
    follow(target("grpc", "coordinator", "rbac"), recording);
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("k8s://rbac/coordinator:grpc");
    expect(recording.failures[0]).toContain("HTTP 403");
    expect(recording.failures[0]).toContain('cannot list resource "endpointslices"');
    expect(recording.failures[0]).toMatch(/may get, list and watch endpointslices\.discovery\.k8s\.io in namespace "rbac"/);
    expect(recording.published).toEqual([]);

    api.setForbidden(false);
    await until("the endpoints", () => recording.latest()?.join() === "10.4.0.1:7070");
  });

  it("reports a stopped API server naming the service and the server, and recovers when it is back", async () => {
    api.createSlice("outage", slice("coordinator-a", [pod("10.5.0.1", "c-0")]));
    const recording = record();
    follow(target("grpc", "coordinator", "outage"), recording);
    await until("the first publish", () => recording.published.length > 0);

    await api.stop();
    await until("a refused connection reported", () => recording.failures.some((failure) => failure.includes("ECONNREFUSED")));
    const refused = recording.failures.find((failure) => failure.includes("ECONNREFUSED"));
    expect(refused).toContain("k8s://outage/coordinator:grpc");
    expect(refused).toContain("Service outage/coordinator");
    expect(refused).toContain(`Kubernetes API at ${api.url}`);
    expect(refused).toMatch(/check that the API server is reachable/);

    api.createSlice("outage", slice("coordinator-b", [pod("10.5.0.2", "c-1")]));
    const publishedBefore = recording.published.length;
    await api.start();
    await until("the endpoints after the outage", () => recording.published.length > publishedBefore);
    expect(recording.latest()).toEqual(["10.5.0.1:7070", "10.5.0.2:7070"]);

    // Back to watching: a later change arrives too.
    api.deleteSlice("outage", "coordinator-a");
    await until("a change after recovery", () => recording.latest()?.join() === "10.5.0.2:7070");
  });

  it("publishes an unchanged set again after a failure, so followers know the registry answers", async () => {
    api.createSlice("again", slice("coordinator-a", [pod("10.6.0.1", "c-0")]));
    const recording = record();
    follow(target("grpc", "coordinator", "again"), recording);
    await until("the first publish", () => recording.published.length > 0);
    await api.stop();
    await until("a failure", () => recording.failures.length > 0);
    await api.start();
    await until("a second publish", () => recording.published.length > 1);
    expect(recording.published.map(addresses)).toEqual([["10.6.0.1:7070"], ["10.6.0.1:7070"]]);
  });

  it("stops its watch on close() and publishes nothing afterwards", async () => {
    api.createSlice("close", slice("coordinator-a", [pod("10.7.0.1", "c-0")]));
    const closed = record();
    const witness = record();
    const source = follow(target("grpc", "coordinator", "close"), closed);
    follow(target("grpc", "coordinator", "close"), witness);
    await until("both watches open", () => closed.published.length > 0 && witness.published.length > 0 && api.openWatches >= 2);
    const openBefore = api.openWatches;

    await source.close();
    await until("the closed watcher's stream to end", () => api.openWatches === openBefore - 1);
    api.createSlice("close", slice("coordinator-b", [pod("10.7.0.2", "c-1")]));
    await until("the witness to see the change", () => witness.latest()?.length === 2);
    expect(closed.published.map(addresses)).toEqual([["10.7.0.1:7070"]]);
    expect(closed.failures).toEqual([]);
  });

  it("watchK8s finds the cluster through KUBECONFIG", async () => {
    api.createSlice("default-config", slice("coordinator-a", [pod("10.9.0.1", "c-0")]));
    const directory = mkdtempSync(join(tmpdir(), "scalemesh-kubeconfig-"));
    const path = join(directory, "config");
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: fake, cluster: {server: '" + api.url + "', insecure-skip-tls-verify: true}}]",
        "users: [{name: tester, user: {}}]",
        "contexts: [{name: fake, context: {cluster: fake, user: tester}}]",
        "current-context: fake",
      ].join("\n"),
    );
    const previous = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path;
    try {
      const recording = record();
      sources.push(watchK8s(target("grpc", "coordinator", "default-config"), recording.sink, {}));
      await until("the endpoints", () => recording.latest()?.join() === "10.9.0.1:7070");
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("says so when the kubeconfig names no cluster", async () => {
    const recording = record();
    sources.push(createK8sWatch({ kubeConfig: new KubeConfig(), minRetryMs: 20 })(target("grpc"), recording.sink, {}));
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("k8s://mesh/coordinator:grpc");
    expect(recording.failures[0]).toContain("(no cluster in the kubeconfig)");
  });

  it("closes promptly while a request hangs and while it waits to retry", async () => {
    api.setUnresponsive(true);
    const hanging = record();
    const requestsBefore = api.requests;
    const hangingSource = follow(target("grpc", "coordinator", "hung"), hanging);
    await until("the list to reach the server", () => api.requests > requestsBefore);
    await hangingSource.close(); // would not return if close() waited for the list's answer
    api.setUnresponsive(false);

    api.setForbidden(true);
    const retrying = record();
    const retryingSource = createK8sWatch({ kubeConfig: api.kubeConfig(), minRetryMs: 60_000 })(target("grpc", "coordinator", "hung"), retrying.sink, {});
    sources.push(retryingSource);
    await until("a failure", () => retrying.failures.length > 0);
    await retryingSource.close(); // would take a minute if the retry wait were not cancelled
    expect(hanging.published).toEqual([]);
    expect(retrying.published).toEqual([]);
  });
});
