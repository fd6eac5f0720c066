// k8s:// against a real cluster: runs only when KUBECONFIG is set (CI has no
// cluster). It makes a Service without selector and an EndpointSlice of its
// own in SCALEMESH_K8S_TEST_NAMESPACE (default "default"), follows them with
// watchK8s (the default kubeconfig loading, as a service would), and deletes
// both afterwards. The account needs create/update/delete on services and
// endpointslices.discovery.k8s.io there, and list/watch on the latter.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1Endpoint,
  type V1EndpointSlice,
} from "@kubernetes/client-node";
import { createRecordingSink, type RecordingSink } from "../../test/support/recording-sink.js";
import { watchK8s } from "./k8s.js";

const namespace = process.env.SCALEMESH_K8S_TEST_NAMESPACE ?? "default";
const service = `scalemesh-test-${randomBytes(4).toString("hex")}`;
const sliceName = `${service}-manual`;

// TEST-NET-1 addresses: valid for an EndpointSlice, never dialled here.
function endpoint(ip: string, ready: boolean): V1Endpoint {
  return {
    addresses: [ip],
    conditions: { ready, serving: ready, terminating: false },
    zone: "test-zone",
  };
}

function sliceOf(endpoints: V1Endpoint[], resourceVersion?: string): V1EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: sliceName,
      ...(resourceVersion ? { resourceVersion } : {}),
      // The service-name label is what the resolver selects on; the
      // managed-by label keeps Kubernetes' controllers off this slice.
      labels: {
        "kubernetes.io/service-name": service,
        "endpointslice.kubernetes.io/managed-by": "scalemesh-tests",
      },
    },
    addressType: "IPv4",
    endpoints,
    ports: [{ name: "grpc", port: 7070, protocol: "TCP" }],
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ignoreNotFound(deletion: Promise<unknown>): Promise<void> {
  try {
    await deletion;
  } catch (error) {
    if (!(typeof error === "object" && error !== null && "code" in error && error.code === 404))
      throw error;
  }
}

describe.skipIf(!process.env.KUBECONFIG)("watchK8s against the cluster in KUBECONFIG", () => {
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;

  beforeAll(async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    core = kubeConfig.makeApiClient(CoreV1Api);
    discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: service, labels: { "app.kubernetes.io/managed-by": "scalemesh-tests" } },
        spec: { ports: [{ name: "grpc", port: 7070, targetPort: 7070, protocol: "TCP" }] },
      },
    });
    await discovery.createNamespacedEndpointSlice({
      namespace,
      body: sliceOf([endpoint("192.0.2.10", true), endpoint("192.0.2.11", true)]),
    });
  });

  afterAll(async () => {
    if (discovery)
      await ignoreNotFound(discovery.deleteNamespacedEndpointSlice({ name: sliceName, namespace }));
    if (core) await ignoreNotFound(core.deleteNamespacedService({ name: service, namespace }));
  });

  it("follows a selector-less Service's EndpointSlice by port name and number", async () => {
    const byName = createRecordingSink();
    const byNumber = createRecordingSink();
    const latest = (recording: RecordingSink) =>
      recording
        .latest()
        .map((e) => e.address)
        .join(",");
    const named = watchK8s({ scheme: "k8s", namespace, service, port: "grpc" }, byName, {});
    const numbered = watchK8s({ scheme: "k8s", namespace, service, port: 7070 }, byNumber, {});
    try {
      await until(
        "both endpoints by name and number",
        () =>
          latest(byName) === "192.0.2.10:7070,192.0.2.11:7070" &&
          latest(byNumber) === latest(byName),
      );
      expect(byName.latest()[0]).toMatchObject({ zone: "test-zone", id: "192.0.2.10:7070" });

      const current = await discovery.readNamespacedEndpointSlice({ name: sliceName, namespace });
      await discovery.replaceNamespacedEndpointSlice({
        name: sliceName,
        namespace,
        body: sliceOf(
          [endpoint("192.0.2.10", true), endpoint("192.0.2.11", false)],
          current.metadata?.resourceVersion,
        ),
      });
      await until("the not-ready endpoint to drop", () => latest(byName) === "192.0.2.10:7070");

      await discovery.deleteNamespacedEndpointSlice({ name: sliceName, namespace });
      await until("the deleted slice to empty the set", () => byName.latest().length === 0);
      expect([...byName.failures, ...byNumber.failures]).toEqual([]);
    } finally {
      await Promise.all([named.close(), numbered.close()]);
    }
  });
});
