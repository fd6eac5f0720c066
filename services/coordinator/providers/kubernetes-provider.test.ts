// The kubernetes provider: its pure reading of pods and scale-down planning
// as tables, then the provider against a fake API server that follows the
// documented Deployment scale and Pod APIs and runs a stand-in for the
// ReplicaSet controller (test/support/fake-kube-workloads.ts), and finally
// checks of the fake itself against the documented API behaviour.
import type { V1Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  startFakeKubeWorkloads,
  type FakeKubeWorkloads,
  type FakePod,
} from "../../../test/support/fake-kube-workloads.js";
import {
  createKubernetesProvider,
  describePod,
  DRAINED_POD_DELETION_COST,
  healthOf,
  planScaleDown,
  POD_DELETION_COST,
  SCALE_DOWN_MARK,
  ScaleDownRefusal,
  type KubernetesProviderOptions,
} from "./kubernetes-provider.js";
import type { WorkerProvider } from "./worker-provider.js";

// ---------------------------------------------------------------------------
// Fixtures for the pure functions

type PodShape = {
  name?: string;
  phase?: string;
  isReady?: boolean;
  node?: string | null;
  waiting?: string;
  restarts?: number;
  isTerminating?: boolean;
  reason?: string;
  cost?: string;
};

function pod(shape: PodShape = {}): V1Pod {
  const phase = shape.phase ?? "Running";
  return {
    metadata: {
      name: shape.name ?? "worker-abc",
      creationTimestamp: new Date("2025-01-01T00:00:00Z"),
      ...(shape.isTerminating ? { deletionTimestamp: new Date("2025-01-01T00:01:00Z") } : {}),
      ...(shape.cost !== undefined ? { annotations: { [POD_DELETION_COST]: shape.cost } } : {}),
    },
    spec: {
      containers: [{ name: "worker" }],
      ...(shape.node === null ? {} : { nodeName: shape.node ?? "node-1" }),
    },
    status: {
      phase,
      ...(shape.reason ? { reason: shape.reason } : {}),
      conditions: [
        { type: "Ready", status: (shape.isReady ?? phase === "Running") ? "True" : "False" },
      ],
      containerStatuses: [
        {
          name: "worker",
          image: "w",
          imageID: "",
          ready: shape.isReady ?? phase === "Running",
          restartCount: shape.restarts ?? 0,
          state: shape.waiting ? { waiting: { reason: shape.waiting } } : { running: {} },
        },
      ],
    },
  };
}

describe("describePod", () => {
  const cases: { name: string; pod: V1Pod; state: string; detail: string }[] = [
    {
      name: "an unscheduled pod is starting",
      pod: pod({ phase: "Pending", node: null, isReady: false }),
      state: "starting",
      detail: "Pending: not scheduled yet",
    },
    {
      name: "a pod whose container is being created is starting",
      pod: pod({ phase: "Pending", waiting: "ContainerCreating" }),
      state: "starting",
      detail: "Pending: ContainerCreating",
    },
    {
      name: "a running ready pod is running",
      pod: pod(),
      state: "running",
      detail: "Running, ready",
    },
    {
      name: "a running pod that is not ready is starting",
      pod: pod({ isReady: false }),
      state: "starting",
      detail: "Running, not ready",
    },
    {
      name: "a crash-looping pod has failed",
      pod: pod({ isReady: false, waiting: "CrashLoopBackOff", restarts: 4 }),
      state: "failed",
      detail: "Running: CrashLoopBackOff (4 restarts)",
    },
    {
      name: "an image that cannot be pulled has failed",
      pod: pod({ phase: "Pending", waiting: "ImagePullBackOff" }),
      state: "failed",
      detail: "Pending: ImagePullBackOff",
    },
    {
      name: "a terminating pod is stopping",
      pod: pod({ isTerminating: true }),
      state: "stopping",
      detail: "Running, terminating",
    },
    {
      name: "a pod that succeeded has exited",
      pod: pod({ phase: "Succeeded", reason: "Completed" }),
      state: "exited",
      detail: "Succeeded: Completed",
    },
    {
      name: "an evicted pod has failed",
      pod: pod({ phase: "Failed", reason: "Evicted" }),
      state: "failed",
      detail: "Failed: Evicted",
    },
    {
      name: "a pod on a silent node has failed",
      pod: pod({ phase: "Unknown" }),
      state: "failed",
      detail: "Unknown: the pod's node stopped reporting",
    },
  ];
  it.each(cases)("$name", ({ pod: subject, state, detail }) => {
    expect(describePod(subject)).toEqual({ state, detail });
  });
});

describe("healthOf", () => {
  it.each([
    { name: "ready", pod: pod(), health: "healthy" },
    { name: "not ready", pod: pod({ isReady: false }), health: "unhealthy" },
    {
      name: "crash-looping",
      pod: pod({ isReady: false, waiting: "CrashLoopBackOff" }),
      health: "unhealthy",
    },
    {
      name: "terminating though still ready",
      pod: pod({ isTerminating: true }),
      health: "unhealthy",
    },
    {
      name: "on a node that stopped reporting",
      pod: pod({ phase: "Unknown", isReady: false }),
      health: "unknown",
    },
    { name: "missing", pod: undefined, health: "gone" },
  ])("a pod $name is $health", ({ pod: subject, health }) => {
    expect(healthOf(subject)).toBe(health);
  });
});

describe("planScaleDown", () => {
  const ready = (name: string, extra: PodShape = {}) => pod({ name, ...extra });

  it("removes the asked pods and lowers the replicas by their number", () => {
    const plan = planScaleDown({
      pods: [ready("a"), ready("b"), ready("c")],
      workerIds: ["b", "c", "b"],
      replicas: 3,
    });
    expect(plan).toEqual({ kind: "remove", targets: ["b", "c"], replicasAfter: 1, skipped: [] });
  });

  it("does not count pods that are gone, terminating or finished, which the ReplicaSet no longer counts either", () => {
    const pods = [
      ready("a"),
      ready("b", { isTerminating: true }),
      ready("c", { phase: "Failed", reason: "Evicted" }),
      ready("d"),
    ];
    const plan = planScaleDown({ pods, workerIds: ["a", "b", "c", "x"], replicas: 2 });
    expect(plan).toMatchObject({ kind: "remove", targets: ["a"], replicasAfter: 1 });
    expect(plan.skipped.map((s) => s.workerId)).toEqual(["b", "c", "x"]);
  });

  it("does nothing when none of the asked pods is live", () => {
    expect(planScaleDown({ pods: [ready("a")], workerIds: ["x"], replicas: 1 })).toMatchObject({
      kind: "nothing",
    });
  });

  const refusals: {
    name: string;
    pods: V1Pod[];
    replicas: number;
    reason: string;
    mentions: string;
  }[] = [
    {
      name: "the ReplicaSet is still creating a pod",
      pods: [ready("a"), ready("b")],
      replicas: 3,
      reason: ScaleDownRefusal.NotSettled,
      mentions: "2 active pods for 3 replicas",
    },
    {
      name: "the ReplicaSet has a pod too many",
      pods: [ready("a"), ready("b"), ready("c")],
      replicas: 2,
      reason: ScaleDownRefusal.NotSettled,
      mentions: "would delete 2",
    },
    {
      name: "another pod is not scheduled",
      pods: [ready("a"), ready("b", { phase: "Pending", node: null, isReady: false })],
      replicas: 2,
      reason: ScaleDownRefusal.OtherPodFirst,
      mentions: "pod b (it is not scheduled on a node yet)",
    },
    {
      name: "another pod is Pending",
      pods: [ready("a"), ready("b", { phase: "Pending", isReady: false })],
      replicas: 2,
      reason: ScaleDownRefusal.OtherPodFirst,
      mentions: "pod b (it is Pending)",
    },
    {
      name: "another pod is not ready",
      pods: [ready("a"), ready("b", { isReady: false })],
      replicas: 2,
      reason: ScaleDownRefusal.OtherPodFirst,
      mentions: "pod b (it is not ready)",
    },
    {
      name: "another pod is as cheap to delete",
      pods: [ready("a"), ready("b", { cost: DRAINED_POD_DELETION_COST })],
      replicas: 2,
      reason: ScaleDownRefusal.OtherPodFirst,
      mentions: "its pod-deletion-cost is -2147483648",
    },
  ];
  it.each(refusals)("refuses when $name", ({ pods, replicas, reason, mentions }) => {
    const plan = planScaleDown({ pods, workerIds: ["a"], replicas });
    expect(plan).toMatchObject({ kind: "refused", reason });
    expect(plan.kind === "refused" ? plan.message : "").toContain(mentions);
  });

  it("goes ahead when the asked pod is itself the one not ready", () => {
    const plan = planScaleDown({
      pods: [ready("a", { isReady: false }), ready("b", { cost: "-5" })],
      workerIds: ["a"],
      replicas: 2,
    });
    expect(plan).toMatchObject({ kind: "remove", targets: ["a"], replicasAfter: 1 });
  });
});

// ---------------------------------------------------------------------------
// Against the fake API server

const NS = "mesh";
const DEPLOYMENT = "scalemesh-worker";
const LABELS = { app: "scalemesh-worker" };

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the kubernetes provider against a fake API server", () => {
  let api: FakeKubeWorkloads;
  let provider: WorkerProvider;
  const logLines: string[] = [];

  const makeProvider = (extra: Partial<KubernetesProviderOptions> = {}) =>
    createKubernetesProvider({
      kubeConfig: api.kubeConfig(),
      namespace: NS,
      deployment: DEPLOYMENT,
      labelSelector: "app=scalemesh-worker",
      logger: pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) }),
      ...extra,
    });
  const names = (pods: readonly FakePod[]) => pods.map((p) => p.metadata.name);
  const livePods = () =>
    api
      .pods(NS)
      .filter(
        (p) =>
          p.metadata.labels.app === "scalemesh-worker" &&
          p.metadata.deletionTimestamp === undefined &&
          p.status.phase !== "Failed",
      );
  const patches = () => api.requests.filter((r) => r.method === "PATCH");

  beforeEach(async () => {
    api = await startFakeKubeWorkloads();
    api.createDeployment(NS, { name: DEPLOYMENT, replicas: 3, labels: LABELS });
    api.settle();
    provider = makeProvider();
    logLines.length = 0;
  });
  afterEach(async () => {
    await provider.close();
    await api.close();
  });

  it("lists the deployment's pods by label with their states, oldest first", async () => {
    api.createDeployment(NS, { name: "other", replicas: 1, labels: { app: "other" } });
    api.settle();
    const [first, second, third] = names(livePods());
    api.crashLoopPod(NS, second as string);
    api.evictPod(NS, third as string);
    api.step(); // the ReplicaSet replaces the evicted pod

    const workers = await provider.list();
    const byId = new Map(workers.map((w) => [w.workerId, w]));
    expect(workers).toHaveLength(4); // the other deployment's pod is not one
    expect(new Set(byId.keys())).toEqual(
      new Set(names(api.pods(NS).filter((p) => p.metadata.labels.app === "scalemesh-worker"))),
    );
    expect(byId.get(first as string)).toEqual({
      workerId: first,
      state: "running",
      detail: "Running, ready",
      startedAtMs: expect.any(Number),
    });
    expect(byId.get(second as string)).toMatchObject({
      state: "failed",
      detail: "Running: CrashLoopBackOff (3 restarts)",
    });
    expect(byId.get(third as string)).toMatchObject({
      state: "failed",
      detail: "Failed: Evicted: The node was low on resource: memory.",
    });
    const replacement = workers.find((w) => ![first, second, third].includes(w.workerId));
    expect(replacement).toEqual({
      workerId: expect.any(String),
      state: "starting",
      detail: "Pending: not scheduled yet",
    });
  });

  it("starts workers by patching the scale with a merge patch, and names none before the pods exist", async () => {
    const ids = await provider.start(2);
    expect(ids).toEqual([]);
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(5);
    expect(patches()).toEqual([
      expect.objectContaining({
        path: `/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}/scale`,
        contentType: "application/merge-patch+json",
        query: "?fieldManager=scalemesh-coordinator",
      }),
    ]);
    api.settle();
    expect(livePods()).toHaveLength(5);
  });

  it("names the pods it started once they exist, when told to wait for them", async () => {
    await api.close();
    api = await startFakeKubeWorkloads({ autoStepMs: 5 });
    api.createDeployment(NS, { name: DEPLOYMENT, replicas: 1, labels: LABELS });
    await until("the first pod", () => livePods().length === 1);
    const [old] = names(livePods());
    await provider.close();
    provider = makeProvider({ startWaitMs: 5_000 });

    const ids = await provider.start(2);
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(old);
    expect(new Set(names(livePods()))).toEqual(new Set([old, ...ids]));
  });

  it("reads the scale again when another writer changed the deployment between read and patch (409 Conflict)", async () => {
    let isFirstPatch = true;
    api.onRequest((request) => {
      if (request.method === "PATCH" && isFirstPatch) {
        isFirstPatch = false;
        api.touchDeployment(NS, DEPLOYMENT); // e.g. the Deployment controller writing status
      }
    });
    await provider.start(1);
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(4);
    const scaleCalls = api.requests.filter((r) => r.path.endsWith("/scale")).map((r) => r.method);
    expect(scaleCalls).toEqual(["GET", "PATCH", "GET", "PATCH"]);
  });

  it("stops exactly the given pods: marks them cheapest to delete, then lowers the replicas", async () => {
    // The oldest pod: without the mark the ReplicaSet would delete the newest.
    const [oldest, middle, newest] = names(livePods());
    await provider.stop([oldest as string]);

    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(2);
    expect(api.pod(NS, oldest as string)?.metadata.annotations).toMatchObject({
      [POD_DELETION_COST]: DRAINED_POD_DELETION_COST,
      [SCALE_DOWN_MARK]: expect.any(String),
    });
    expect(patches().map((r) => r.contentType)).toEqual([
      "application/merge-patch+json",
      "application/merge-patch+json",
    ]);
    api.settle();
    expect(names(livePods())).toEqual([middle, newest]);
    expect(api.pod(NS, oldest as string)).toBeUndefined();

    await provider.stop([middle as string, newest as string]);
    api.settle();
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(0);
    expect(livePods()).toEqual([]);
  });

  it("does not lower the replicas for pods that are already gone", async () => {
    await provider.stop(["scalemesh-worker-gone-12345"]);
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(3);
    expect(patches()).toEqual([]);
    expect(logLines.join("")).toContain("no such pod (already gone)");
  });

  it("refuses a scale-down while a newer pod is still starting, because the ReplicaSet would delete that one instead", async () => {
    const [oldest] = names(livePods());
    await provider.start(1);
    api.step(); // the new pod exists, Pending
    const pending = livePods().find((p) => p.status.phase === "Pending")?.metadata.name;

    await expect(provider.stop([oldest as string])).rejects.toThrow(
      new RegExp(
        `${NS}/${DEPLOYMENT}: not stopping ${oldest} \\(${ScaleDownRefusal.OtherPodFirst}\\): the ReplicaSet controller would delete pod ${pending} \\(it is not scheduled on a node yet\\)`,
      ),
    );
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(4);
    expect(api.pod(NS, oldest as string)?.metadata.annotations).toBeUndefined();

    api.settle();
    await provider.stop([oldest as string]);
    api.settle();
    expect(names(livePods())).not.toContain(oldest);
    expect(livePods()).toHaveLength(3);
  });

  it("refuses a scale-down while the ReplicaSet is replacing a pod", async () => {
    const [first, second] = names(livePods());
    await provider.replace(first as string);
    await expect(provider.stop([second as string])).rejects.toThrow(ScaleDownRefusal.NotSettled);
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(3);
  });

  it("takes back a deletion-cost mark an earlier failed stop left on a pod the coordinator kept", async () => {
    const [kept, removed] = names(livePods());
    api.annotatePod(NS, kept as string, {
      [POD_DELETION_COST]: DRAINED_POD_DELETION_COST,
      [SCALE_DOWN_MARK]: "2025-01-01T00:00:00.000Z",
    });
    await provider.stop([removed as string]);
    expect(api.pod(NS, kept as string)?.metadata.annotations).toBeUndefined();
    api.settle();
    expect(names(livePods())).toContain(kept);
    expect(names(livePods())).not.toContain(removed);
  });

  it("rejects naming the deployment, the Status message and the RBAC rule when the scale patch is forbidden, and takes its marks back", async () => {
    const [target] = names(livePods());
    api.setForbidden({ verb: "patch", resource: "deployments/scale" });
    const failure = provider.stop([target as string]);
    await expect(failure).rejects.toThrow(
      `kubernetes provider, deployment ${NS}/${DEPLOYMENT}: stopping ${target}: patching the scale of deployment ${DEPLOYMENT} from 3 to 2 replicas failed: HTTP 403: deployments.apps "${DEPLOYMENT}" is forbidden`,
    );
    await expect(failure).rejects.toThrow(
      `needs get and patch on deployments/scale (apps) and list, patch and delete on pods in namespace "${NS}" (RBAC)`,
    );
    expect(api.pod(NS, target as string)?.metadata.annotations).toBeUndefined();
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(3);
  });

  it("rejects with the Status message when listing pods is forbidden", async () => {
    api.setForbidden(true);
    await expect(provider.list()).rejects.toThrow(
      `kubernetes provider, deployment ${NS}/${DEPLOYMENT}: listing pods app=scalemesh-worker failed: HTTP 403: pods is forbidden: User "system:serviceaccount:${NS}:default" cannot list resource "pods" in API group "" in the namespace "${NS}"; the coordinator's account needs`,
    );
  });

  it("says which setting to check when the deployment does not exist", async () => {
    await provider.close();
    provider = makeProvider({ deployment: "no-such-deployment" });
    await expect(provider.start(1)).rejects.toThrow(
      `reading the scale of deployment no-such-deployment failed: HTTP 404: deployments.apps "no-such-deployment" not found; there is no Deployment "no-such-deployment" in namespace "${NS}"`,
    );
  });

  it("says the API server is unreachable when nothing answers", async () => {
    await api.close();
    await expect(provider.health("x")).rejects.toThrow(
      /listing pods .* failed: .*; check that the API server at http:\/\/127\.0\.0\.1:\d+ is reachable/,
    );
    api = await startFakeKubeWorkloads(); // for afterEach
  });

  it("replaces a pod by deleting it; the ReplicaSet makes a new one", async () => {
    const [doomed] = names(livePods());
    api.crashLoopPod(NS, doomed as string);
    await provider.replace(doomed as string);
    expect(api.pod(NS, doomed as string)?.metadata.deletionTimestamp).toEqual(expect.any(String));
    expect(await provider.health(doomed as string)).toBe("unhealthy");
    api.settle();
    expect(api.pod(NS, doomed as string)).toBeUndefined();
    expect(await provider.health(doomed as string)).toBe("gone");
    expect(livePods()).toHaveLength(3);
    expect(livePods().every((p) => p.status.phase === "Running")).toBe(true);
    const deletion = api.requests.find((r) => r.method === "DELETE");
    expect(deletion?.path).toBe(`/api/v1/namespaces/${NS}/pods/${doomed}`);
  });

  it("leaves alone a pod of the same name outside its label selector, and one already gone", async () => {
    api.createDeployment(NS, { name: "other", replicas: 1, labels: { app: "other" } });
    api.settle();
    const outsider = api.pods(NS).find((p) => p.metadata.labels.app === "other")?.metadata
      .name as string;
    await provider.replace(outsider);
    await provider.replace("scalemesh-worker-gone-12345");
    expect(api.requests.filter((r) => r.method === "DELETE")).toEqual([]);
    expect(await provider.health(outsider)).toBe("gone");
    // An id that cannot be a pod name is not spliced into a field selector at all.
    const requestsBefore = api.requests.length;
    expect(await provider.health(`${outsider},metadata.name!=x`)).toBe("gone");
    await provider.replace("Not A Pod");
    expect(api.requests.length).toBe(requestsBefore);
  });

  it("reports health from the Ready condition", async () => {
    const [a, b] = names(livePods());
    api.setPodReady(NS, b as string, false);
    expect(await provider.health(a as string)).toBe("healthy");
    expect(await provider.health(b as string)).toBe("unhealthy");
    api.setPodReady(NS, b as string, true);
    expect(await provider.health(b as string)).toBe("healthy");
  });
});

// ---------------------------------------------------------------------------
// The fake itself, against the documented API behaviour

describe("the fake Kubernetes workloads API", () => {
  let api: FakeKubeWorkloads;
  const scalePath = `/apis/apps/v1/namespaces/${NS}/deployments/${DEPLOYMENT}/scale`;
  const send = async (
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": contentType } }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const live = () => api.pods(NS).filter((p) => p.metadata.deletionTimestamp === undefined);

  beforeEach(async () => {
    api = await startFakeKubeWorkloads();
    api.createDeployment(NS, { name: DEPLOYMENT, replicas: 3, labels: LABELS });
    api.settle();
  });
  afterEach(async () => {
    await api.close();
  });

  it("refuses a PATCH in plain application/json with 415, as the API server does", async () => {
    const { status, body } = await send("PATCH", scalePath, { spec: { replicas: 9 } });
    expect(status).toBe(415);
    expect(body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "UnsupportedMediaType",
      code: 415,
    });
    expect(body.message).toMatch(
      /^the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json/,
    );
  });

  it.each([
    { type: "application/merge-patch+json", patch: { spec: { replicas: 4 } } },
    { type: "application/strategic-merge-patch+json", patch: { spec: { replicas: 4 } } },
    {
      type: "application/json-patch+json",
      patch: [
        { op: "test", path: "/spec/replicas", value: 3 },
        { op: "replace", path: "/spec/replicas", value: 4 },
      ],
    },
  ])("applies a $type to the Scale", async ({ type, patch }) => {
    const { status, body } = await send("PATCH", scalePath, patch, type);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      spec: { replicas: 4 },
      status: { replicas: 3, selector: "app=scalemesh-worker" },
    });
    expect(api.deployment(NS, DEPLOYMENT).replicas).toBe(4);
  });

  it("answers a stale resourceVersion with 409, a negative count with 422, and omits replicas at zero", async () => {
    const stale = await send(
      "PATCH",
      scalePath,
      { metadata: { resourceVersion: "1" }, spec: { replicas: 2 } },
      "application/merge-patch+json",
    );
    expect(stale).toMatchObject({ status: 409, body: { reason: "Conflict", code: 409 } });
    const negative = await send(
      "PATCH",
      scalePath,
      { spec: { replicas: -1 } },
      "application/merge-patch+json",
    );
    expect(negative.status).toBe(422);
    expect(negative.body.message).toBe(
      `Scale.autoscaling "${DEPLOYMENT}" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`,
    );
    const zero = await send(
      "PATCH",
      scalePath,
      { spec: { replicas: 0 } },
      "application/merge-patch+json",
    );
    expect(zero.body.spec).toEqual({});
    const jsonPatchAtZero = await send(
      "PATCH",
      scalePath,
      [{ op: "replace", path: "/spec/replicas", value: 3 }],
      "application/json-patch+json",
    );
    expect(jsonPatchAtZero.status).toBe(422); // nothing to replace: as on a real cluster, only add works there
  });

  it("answers a missing object with a NotFound Status carrying details", async () => {
    const { status, body } = await send(
      "GET",
      `/apis/apps/v1/namespaces/${NS}/deployments/nope/scale`,
    );
    expect(status).toBe(404);
    expect(body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'deployments.apps "nope" not found',
      reason: "NotFound",
      details: { name: "nope", group: "apps", kind: "deployments" },
      code: 404,
    });
  });

  it("validates pod-deletion-cost as a 32-bit integer and keeps a pod's spec unchangeable", async () => {
    const name = live()[0]?.metadata.name as string;
    const path = `/api/v1/namespaces/${NS}/pods/${name}`;
    const bad = await send(
      "PATCH",
      path,
      { metadata: { annotations: { [POD_DELETION_COST]: "cheap" } } },
      "application/merge-patch+json",
    );
    expect(bad.status).toBe(422);
    expect(bad.body.message).toBe(
      `Pod "${name}" is invalid: metadata.annotations[${POD_DELETION_COST}]: Invalid value: "cheap": must be a 32bit integer`,
    );
    const spec = await send(
      "PATCH",
      path,
      { spec: { nodeName: "elsewhere" } },
      "application/merge-patch+json",
    );
    expect(spec.status).toBe(422);
    const good = await send(
      "PATCH",
      path,
      { metadata: { annotations: { [POD_DELETION_COST]: "7" } } },
      "application/merge-patch+json",
    );
    expect(good.status).toBe(200);
    const removed = await send(
      "PATCH",
      path,
      { metadata: { annotations: { [POD_DELETION_COST]: null } } },
      "application/merge-patch+json",
    );
    expect((removed.body.metadata as Record<string, unknown>).annotations).toBeUndefined();
  });

  it("deletes surplus pods in the ReplicaSet controller's order: not ready first, then lowest deletion cost, then the latest ready", async () => {
    const [oldest, middle, newest] = live().map((p) => p.metadata.name) as [string, string, string];
    const scaleTo = (replicas: number) =>
      send("PATCH", scalePath, { spec: { replicas } }, "application/merge-patch+json");

    await scaleTo(2);
    api.settle();
    expect(live().map((p) => p.metadata.name)).toEqual([oldest, middle]);

    api.annotatePod(NS, oldest, { [POD_DELETION_COST]: "-10" });
    api.annotatePod(NS, middle, { [POD_DELETION_COST]: "10" });
    await scaleTo(3);
    api.settle();
    const added = live()[2]?.metadata.name as string;
    expect([oldest, middle, newest]).not.toContain(added);
    await scaleTo(2);
    api.settle();
    expect(live().map((p) => p.metadata.name)).toEqual([middle, added]); // the lowest cost went before the latest ready

    api.setPodReady(NS, middle, false);
    api.annotatePod(NS, added, { [POD_DELETION_COST]: "-100" });
    await scaleTo(1);
    api.settle();
    expect(live().map((p) => p.metadata.name)).toEqual([added]); // not ready goes before any cost
  });

  it("deletes an unscheduled pod at once and a running one gracefully, checking the uid precondition", async () => {
    const running = live()[0]?.metadata.name as string;
    const wrongUid = await send("DELETE", `/api/v1/namespaces/${NS}/pods/${running}`, {
      preconditions: { uid: "not-its-uid" },
    });
    expect(wrongUid).toMatchObject({ status: 409, body: { reason: "Conflict" } });
    const graceful = await send("DELETE", `/api/v1/namespaces/${NS}/pods/${running}`, {});
    expect(graceful.status).toBe(200);
    expect((graceful.body.metadata as Record<string, unknown>).deletionTimestamp).toEqual(
      expect.any(String),
    );
    api.step(); // removed by the kubelet; the ReplicaSet creates a replacement
    const unscheduled = live().find((p) => p.spec.nodeName === undefined)?.metadata.name as string;
    const immediate = await send("DELETE", `/api/v1/namespaces/${NS}/pods/${unscheduled}`);
    expect(immediate.status).toBe(200);
    expect(api.pod(NS, unscheduled)).toBeUndefined();
    api.settle();
    expect(live()).toHaveLength(3);
  });

  it("selects pods by set-based labels and by field, and refuses unknown fields", async () => {
    const name = live()[0]?.metadata.name as string;
    const list = (query: string) => send("GET", `/api/v1/namespaces/${NS}/pods?${query}`);
    expect(
      ((await list("labelSelector=app%20in%20(scalemesh-worker,x)")).body.items as unknown[])
        .length,
    ).toBe(3);
    expect(
      ((await list("labelSelector=app%20notin%20(scalemesh-worker)")).body.items as unknown[])
        .length,
    ).toBe(0);
    const byName = await list(`fieldSelector=metadata.name%3D${name}`);
    expect((byName.body.items as FakePod[]).map((p) => p.metadata.name)).toEqual([name]);
    const unknown = await list("fieldSelector=spec.schedulerName%3Dx");
    expect(unknown).toMatchObject({
      status: 400,
      body: { message: "field label not supported: spec.schedulerName" },
    });
  });
});
