import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { METRICS_PORT, pod, slice } from "../../test/support/fake-endpoint-slices.js";
import { startFakeKubeApi, type FakeKubeApi } from "../../test/support/fake-kube-api.js";
import { createRecordingSink, type RecordingSink } from "../../test/support/recording-sink.js";
import type { K8sTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, EndpointSource } from "./endpoint-watch.js";
import { createK8sWatch, watchK8s } from "./k8s.js";

const addresses = (endpoints: readonly DiscoveredEndpoint[]) => endpoints.map((e) => e.address);

// --- against the fake API server -------------------------------------------

/** Polls until `check` holds; fails naming `what` after the deadline. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const target = (port: number | string, service = "coordinator", namespace = "mesh"): K8sTarget => ({
  scheme: "k8s",
  namespace,
  service,
  port,
});

describe("watchK8s against a fake API server", () => {
  let api: FakeKubeApi;
  const sources: EndpointSource[] = [];

  const follow = (
    t: K8sTarget,
    recording: RecordingSink,
    options: { watchTimeoutSec?: number } = {},
  ) => {
    const watch = createK8sWatch({
      kubeConfig: api.kubeConfig(),
      minRetryMs: 20,
      maxRetryMs: 200,
      ...options,
    });
    const source = watch(t, recording, { random: () => 0 });
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
    api.createSlice(
      "mesh",
      slice("coordinator-a", [
        pod("10.0.0.1", "c-0"),
        pod("10.0.0.2", "c-1", { conditions: { ready: false } }),
      ]),
    );
    api.createSlice("mesh", slice("other-a", [pod("10.0.9.9", "o-0")], { service: "other" }));
    const listsBefore = api.listCalls;
    const recording = createRecordingSink();
    follow(target("grpc"), recording);

    await until("the first publish", () => recording.published.length > 0);
    expect(addresses(recording.latest())).toEqual(["10.0.0.1:7070"]);

    api.createSlice("mesh", slice("coordinator-b", [pod("10.0.0.3", "c-2")]));
    await until("the added slice", () => addresses(recording.latest()).includes("10.0.0.3:7070"));

    api.updateSlice(
      "mesh",
      slice("coordinator-a", [
        pod("10.0.0.1", "c-0", { conditions: { ready: false } }),
        pod("10.0.0.2", "c-1"),
      ]),
    );
    await until(
      "the modified slice",
      () => addresses(recording.latest()).join() === "10.0.0.2:7070,10.0.0.3:7070",
    );

    // A slice whose service-name label changes leaves the selector: the watch says DELETED.
    api.updateSlice("mesh", slice("coordinator-b", [pod("10.0.0.3", "c-2")], { service: "other" }));
    await until(
      "the relabelled slice to leave",
      () => addresses(recording.latest()).join() === "10.0.0.2:7070",
    );

    api.deleteSlice("mesh", "coordinator-a");
    await until("the deleted slice", () => recording.latest().length === 0);

    expect(api.listCalls - listsBefore).toBe(1);
    expect(recording.failures).toEqual([]);
    api.deleteSlice("mesh", "coordinator-b");
    api.deleteSlice("mesh", "other-a");
  });

  it("answers a named and a numbered port from the same slices", async () => {
    api.createSlice(
      "ports",
      slice("balancer-a", [pod("10.1.0.1", "b-0")], {
        service: "balancer",
        ports: [{ name: "grpc", port: 7080 }, METRICS_PORT],
      }),
    );
    const byName = createRecordingSink();
    const byNumber = createRecordingSink();
    follow(target("grpc", "balancer", "ports"), byName);
    follow(target(9090, "balancer", "ports"), byNumber);
    await until("both answers", () => byName.published.length > 0 && byNumber.published.length > 0);
    expect(addresses(byName.latest())).toEqual(["10.1.0.1:7080"]);
    expect(addresses(byNumber.latest())).toEqual(["10.1.0.1:9090"]);
  });

  it("publishes an empty set for a service without slices", async () => {
    const recording = createRecordingSink();
    follow(target("grpc", "nothing-here", "empty"), recording);
    await until("the first publish", () => recording.published.length > 0);
    expect(recording.published).toEqual([[]]);
  });

  it("lists again after 410 Gone and catches up with what changed meanwhile", async () => {
    api.createSlice("gone", slice("coordinator-a", [pod("10.2.0.1", "c-0")]));
    const recording = createRecordingSink();
    follow(target("grpc", "coordinator", "gone"), recording);
    await until("the first publish", () => recording.published.length > 0);
    await until("the watch to open", () => api.openWatches > 0);
    const listsBefore = api.listCalls;

    api.expireHistory();
    await until(
      "a second list and a new watch",
      () => api.listCalls === listsBefore + 1 && api.openWatches > 0,
    );
    expect(recording.published).toHaveLength(1); // the same set is not published again
    api.updateSlice("gone", slice("coordinator-a", [pod("10.2.0.1", "c-0", { zone: "z1" })]));
    await until(
      "the change through the new watch",
      () => recording.published.at(-1)?.[0]?.zone === "z1",
    );

    api.expireHistory();
    api.createSlice("gone", slice("coordinator-b", [pod("10.2.0.2", "c-1")]));
    await until(
      "the new slice",
      () => addresses(recording.latest()).join() === "10.2.0.1:7070,10.2.0.2:7070",
    );
    await until("a third list", () => api.listCalls > listsBefore + 1);

    // And it still follows changes afterwards, from the new list's version.
    api.deleteSlice("gone", "coordinator-a");
    await until(
      "the deletion after the re-list",
      () => addresses(recording.latest()).join() === "10.2.0.2:7070",
    );
    expect(recording.failures).toEqual([]);
  });

  it("reports a server that expires every watch right after its list, instead of listing in a loop", async () => {
    api.createSlice("always-gone", slice("coordinator-a", [pod("10.8.0.1", "c-0")]));
    api.setWatchesGone(true);
    const recording = createRecordingSink();
    follow(target("grpc", "coordinator", "always-gone"), recording);
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("410 Gone");
    expect(recording.failures[0]).toContain("k8s://always-gone/coordinator:grpc");
    expect(addresses(recording.latest())).toEqual(["10.8.0.1:7070"]); // the lists themselves answered

    api.setWatchesGone(false);
    api.createSlice("always-gone", slice("coordinator-b", [pod("10.8.0.2", "c-1")]));
    await until("recovery", () => recording.latest().length === 2);
  });

  it("renews a watch the server ended (timeoutSeconds) from the last version, without listing again", async () => {
    api.createSlice("renew", slice("coordinator-a", [pod("10.3.0.1", "c-0")]));
    const recording = createRecordingSink();
    const watchesBefore = api.watchCalls;
    follow(target("grpc", "coordinator", "renew"), recording, { watchTimeoutSec: 1 });
    await until("the first publish", () => recording.published.length > 0);
    const listsAfterStart = api.listCalls;
    await until(
      "a renewed watch",
      () => api.watchCalls >= watchesBefore + 2 && api.openWatches > 0,
    );

    api.createSlice("renew", slice("coordinator-b", [pod("10.3.0.2", "c-1")]));
    await until("the change seen by the renewed watch", () => recording.latest().length === 2);
    expect(api.listCalls).toBe(listsAfterStart);
    expect(recording.failures).toEqual([]);
  });

  it("reports a refusal by RBAC with the API's reason, and recovers once allowed", async () => {
    api.createSlice("rbac", slice("coordinator-a", [pod("10.4.0.1", "c-0")]));
    api.setForbidden(true);
    const recording = createRecordingSink();
    follow(target("grpc", "coordinator", "rbac"), recording);
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("k8s://rbac/coordinator:grpc");
    expect(recording.failures[0]).toContain("HTTP 403");
    expect(recording.failures[0]).toContain('cannot list resource "endpointslices"');
    expect(recording.failures[0]).toMatch(
      /may get, list and watch endpointslices\.discovery\.k8s\.io in namespace "rbac"/,
    );
    expect(recording.published).toEqual([]);

    api.setForbidden(false);
    await until("the endpoints", () => addresses(recording.latest()).join() === "10.4.0.1:7070");
  });

  it("reports a stopped API server naming the service and the server, and recovers when it is back", async () => {
    api.createSlice("outage", slice("coordinator-a", [pod("10.5.0.1", "c-0")]));
    const recording = createRecordingSink();
    follow(target("grpc", "coordinator", "outage"), recording);
    await until("the first publish", () => recording.published.length > 0);

    await api.stop();
    await until("a refused connection reported", () =>
      recording.failures.some((failure) => failure.includes("ECONNREFUSED")),
    );
    const refused = recording.failures.find((failure) => failure.includes("ECONNREFUSED"));
    expect(refused).toContain("k8s://outage/coordinator:grpc");
    expect(refused).toContain("Service outage/coordinator");
    expect(refused).toContain(`Kubernetes API at ${api.url}`);
    expect(refused).toMatch(/check that the API server is reachable/);

    api.createSlice("outage", slice("coordinator-b", [pod("10.5.0.2", "c-1")]));
    const publishedBefore = recording.published.length;
    await api.start();
    await until(
      "the endpoints after the outage",
      () => recording.published.length > publishedBefore,
    );
    expect(addresses(recording.latest())).toEqual(["10.5.0.1:7070", "10.5.0.2:7070"]);

    // Back to watching: a later change arrives too.
    api.deleteSlice("outage", "coordinator-a");
    await until(
      "a change after recovery",
      () => addresses(recording.latest()).join() === "10.5.0.2:7070",
    );
  });

  it("publishes an unchanged set again after a failure, so followers know the registry answers", async () => {
    api.createSlice("again", slice("coordinator-a", [pod("10.6.0.1", "c-0")]));
    const recording = createRecordingSink();
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
    const closed = createRecordingSink();
    const witness = createRecordingSink();
    const source = follow(target("grpc", "coordinator", "close"), closed);
    follow(target("grpc", "coordinator", "close"), witness);
    await until(
      "both watches open",
      () => closed.published.length > 0 && witness.published.length > 0 && api.openWatches >= 2,
    );
    const openBefore = api.openWatches;

    await source.close();
    await until("the closed watcher's stream to end", () => api.openWatches === openBefore - 1);
    api.createSlice("close", slice("coordinator-b", [pod("10.7.0.2", "c-1")]));
    await until("the witness to see the change", () => witness.latest().length === 2);
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
        "clusters: [{name: fake, cluster: {server: '" +
          api.url +
          "', insecure-skip-tls-verify: true}}]",
        "users: [{name: tester, user: {}}]",
        "contexts: [{name: fake, context: {cluster: fake, user: tester}}]",
        "current-context: fake",
      ].join("\n"),
    );
    const previous = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path;
    try {
      const recording = createRecordingSink();
      sources.push(watchK8s(target("grpc", "coordinator", "default-config"), recording, {}));
      await until("the endpoints", () => addresses(recording.latest()).join() === "10.9.0.1:7070");
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("says so when the kubeconfig names no cluster", async () => {
    const recording = createRecordingSink();
    sources.push(
      createK8sWatch({ kubeConfig: new KubeConfig(), minRetryMs: 20 })(
        target("grpc"),
        recording,
        {},
      ),
    );
    await until("a failure", () => recording.failures.length > 0);
    expect(recording.failures[0]).toContain("k8s://mesh/coordinator:grpc");
    expect(recording.failures[0]).toContain("(no cluster in the kubeconfig)");
  });

  it("closes promptly while a request hangs and while it waits to retry", async () => {
    api.setUnresponsive(true);
    const hanging = createRecordingSink();
    const requestsBefore = api.requests;
    const hangingSource = follow(target("grpc", "coordinator", "hung"), hanging);
    await until("the list to reach the server", () => api.requests > requestsBefore);
    await hangingSource.close(); // would not return if close() waited for the list's answer
    api.setUnresponsive(false);

    api.setForbidden(true);
    const retrying = createRecordingSink();
    const retryingSource = createK8sWatch({ kubeConfig: api.kubeConfig(), minRetryMs: 60_000 })(
      target("grpc", "coordinator", "hung"),
      retrying,
      {},
    );
    sources.push(retryingSource);
    await until("a failure", () => retrying.failures.length > 0);
    await retryingSource.close(); // would take a minute if the retry wait were not cancelled
    expect(hanging.published).toEqual([]);
    expect(retrying.published).toEqual([]);
  });
});
