// A fake Kubernetes API server for the kubernetes worker provider: the apps/v1
// Deployment `scale` subresource (an autoscaling/v1 Scale) and core/v1 Pods,
// with the documented behaviour the provider relies on:
// - PATCH takes application/merge-patch+json (RFC 7386),
//   application/json-patch+json (RFC 6902) and
//   application/strategic-merge-patch+json (applied here to maps only, where
//   it is a merge patch); any other Content-Type, the client's default
//   application/json included, is refused with 415 UnsupportedMediaType;
// - a patch that sets metadata.resourceVersion is a precondition (409 Conflict
//   when stale), and the Deployment's resourceVersion also moves with every
//   status write of its controller, as on a real cluster;
// - errors are metav1.Status objects worded as the API server words them
//   (403 names the verb and resource RBAC refused, 404 the object, 422 the field);
// - DELETE of a pod bound to a node is graceful (deletionTimestamp; the
//   kubelet removes it on the next step), of an unscheduled or finished pod
//   immediate; body.preconditions.uid is checked;
// - GET pods honours labelSelector (equality and set-based) and fieldSelector
//   (metadata.name, metadata.namespace, status.phase, spec.nodeName).
// The controllers behind the API run one round per step() (or every
// autoStepMs): the ReplicaSet controller keeps spec.replicas active pods
// (neither terminating nor Succeeded/Failed), creating Pending ones and
// deleting the surplus in its own order (controller_utils.go
// ActivePodsWithRanks: unscheduled, Pending < Unknown < Running, not ready,
// lower pod-deletion-cost, doubled up on a node, ready for less time, more
// restarts, newer; the LogarithmicScaleDown bucketing of ages is left out and
// equal timestamps, which have one-second resolution, go newest-created
// first); the scheduler binds Pending pods to a node; the kubelet starts
// bound pods (Running, Ready) and removes terminating ones.
// Test hooks: crash-loop, evict or unready a pod, annotate one, another
// writer's change to the Deployment, 403 Forbidden (for everything or one verb
// on one resource), a hook run before each request, the requests received.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { fakeKubeConfig } from "./fake-kube-api.js";
import { isRecord, sendJson } from "./fake-http.js";

export type FakePodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export interface FakePodCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface FakeContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: {
    waiting?: { reason: string; message?: string };
    running?: { startedAt: string };
    terminated?: { exitCode: number; reason: string };
  };
  lastState?: { terminated?: { exitCode: number; reason: string } };
}

export interface FakePod {
  metadata: {
    name: string;
    generateName?: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }[];
  };
  spec: {
    nodeName?: string;
    containers: { name: string; image: string }[];
    restartPolicy: string;
    terminationGracePeriodSeconds: number;
  };
  status: {
    phase: FakePodPhase;
    reason?: string;
    message?: string;
    conditions?: FakePodCondition[];
    containerStatuses?: FakeContainerStatus[];
    startTime?: string;
    hostIP?: string;
    podIP?: string;
  };
}

export interface FakeDeploymentSpec {
  readonly name: string;
  readonly replicas: number;
  /** The pod template's labels, which are also the Deployment's selector. */
  readonly labels: Record<string, string>;
  readonly image?: string;
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentType: string | undefined;
}

export type ForbiddenRule =
  boolean | { readonly verb: string; readonly resource: "pods" | "deployments/scale" };

export interface FakeKubeWorkloads {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** A KubeConfig whose current context points at this server. */
  kubeConfig(): KubeConfig;
  /** Creates a Deployment; its pods appear on the following steps. */
  createDeployment(namespace: string, spec: FakeDeploymentSpec): void;
  /** spec.replicas and metadata.resourceVersion of a Deployment; throws if there is none. */
  deployment(namespace: string, name: string): { replicas: number; resourceVersion: string };
  /** Copies of the pods in a namespace, oldest first. */
  pods(namespace: string): FakePod[];
  pod(namespace: string, name: string): FakePod | undefined;
  /** One round of the kubelet, the scheduler, the ReplicaSet and Deployment controllers; says whether anything changed. */
  step(): boolean;
  /** Steps until nothing changes. */
  settle(): void;
  /** The container keeps crashing: Running, not ready, waiting in CrashLoopBackOff. */
  crashLoopPod(namespace: string, name: string): void;
  /** The kubelet evicted the pod: phase Failed, reason Evicted (the ReplicaSet replaces it; the pod object stays). */
  evictPod(namespace: string, name: string): void;
  /** The readiness probe passes or fails (the container keeps running). */
  setPodReady(namespace: string, name: string, isReady: boolean): void;
  /** Sets annotations as another writer would (null removes one). */
  annotatePod(namespace: string, name: string, annotations: Record<string, string | null>): void;
  /** Another writer's change to the Deployment (a controller's status write): its resourceVersion moves. */
  touchDeployment(namespace: string, name: string): void;
  /** true: every request is refused with 403 as RBAC does; a rule: only that verb on that resource. */
  setForbidden(rule: ForbiddenRule): void;
  /** Runs before each request is handled (after it is recorded); may be async. */
  onRequest(hook: ((request: FakeRequest) => void | Promise<void>) | undefined): void;
  /** Every request received so far. */
  readonly requests: readonly FakeRequest[];
  close(): Promise<void>;
}

export interface FakeKubeWorkloadsOptions {
  /** Run step() on this interval; without it the test calls step() itself. */
  readonly autoStepMs?: number;
}

const NODE_NAME = "fake-node-1";
const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
  "application/strategic-merge-patch+json",
];

interface FakeDeployment {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly creationTimestamp: string;
  readonly labels: Record<string, string>;
  readonly image: string;
  readonly replicaSetName: string;
  readonly replicaSetUid: string;
  resourceVersion: number;
  generation: number;
  replicas: number;
  status: {
    replicas: number;
    readyReplicas: number;
    availableReplicas: number;
    updatedReplicas: number;
  };
}

class FakeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Orders of creation and readiness, to break ties between equal one-second timestamps. */
interface PodOrder {
  readonly createdSeq: number;
  readySeq: number;
}

export async function startFakeKubeWorkloads(
  options: FakeKubeWorkloadsOptions = {},
): Promise<FakeKubeWorkloads> {
  let revision = 1000; // one counter for every object, as etcd's revision
  let sequence = 0;
  let podIpCounter = 0;
  const deployments = new Map<string, FakeDeployment>(); // `${namespace}/${name}`
  const pods = new Map<string, Map<string, FakePod>>(); // namespace → name → pod
  const order = new Map<string, PodOrder>(); // pod uid → order
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  let forbidden: ForbiddenRule = false;
  let requestHook: ((request: FakeRequest) => void | Promise<void>) | undefined;

  const podsIn = (namespace: string) => {
    let named = pods.get(namespace);
    if (!named) pods.set(namespace, (named = new Map()));
    return named;
  };
  const nextVersion = () => String(++revision);
  const findDeployment = (namespace: string, name: string) => {
    const deployment = deployments.get(`${namespace}/${name}`);
    if (!deployment)
      throw new FakeApiError(404, "NotFound", `deployments.apps "${name}" not found`, {
        name,
        group: "apps",
        kind: "deployments",
      });
    return deployment;
  };
  const findPod = (namespace: string, name: string) => {
    const pod = podsIn(namespace).get(name);
    if (!pod)
      throw new FakeApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    return pod;
  };
  const changePod = (pod: FakePod, change: (pod: FakePod) => void) => {
    change(pod);
    pod.metadata.resourceVersion = nextVersion();
  };
  const removePod = (pod: FakePod) => {
    podsIn(pod.metadata.namespace).delete(pod.metadata.name);
    order.delete(pod.metadata.uid);
    revision += 1;
  };

  // -------------------------------------------------------------------------
  // The controllers

  const createPod = (deployment: FakeDeployment) => {
    let name: string;
    do name = `${deployment.replicaSetName}-${randomSuffix(5)}`;
    while (podsIn(deployment.namespace).has(name));
    const pod: FakePod = {
      metadata: {
        name,
        generateName: `${deployment.replicaSetName}-`,
        namespace: deployment.namespace,
        uid: randomUUID(),
        resourceVersion: nextVersion(),
        creationTimestamp: rfc3339(Date.now()),
        labels: {
          ...deployment.labels,
          "pod-template-hash": deployment.replicaSetName.slice(deployment.name.length + 1),
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: deployment.replicaSetName,
            uid: deployment.replicaSetUid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        containers: [{ name: "worker", image: deployment.image }],
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 30,
      },
      status: { phase: "Pending" }, // no conditions until the scheduler has looked at it
    };
    order.set(pod.metadata.uid, { createdSeq: ++sequence, readySeq: 0 });
    podsIn(deployment.namespace).set(name, pod);
  };

  /** Its ReplicaSet's pods: owned by it and still matching its selector (one relabelled away is released). */
  const ownedPods = (deployment: FakeDeployment) =>
    [...podsIn(deployment.namespace).values()].filter(
      (pod) =>
        pod.metadata.ownerReferences?.some((owner) => owner.uid === deployment.replicaSetUid) &&
        matchesLabels(deployment.labels, pod.metadata.labels),
    );

  /** The ReplicaSet controller's manageReplicas: create the missing pods, delete the surplus in its ranking order. */
  const reconcileReplicas = (deployment: FakeDeployment): boolean => {
    const active = ownedPods(deployment).filter(isActive);
    const diff = active.length - deployment.replicas;
    if (diff < 0) for (let i = 0; i < -diff; i += 1) createPod(deployment);
    if (diff > 0) {
      const now = Date.now();
      for (const pod of rankForDeletion(active, ownedPods(deployment), order).slice(0, diff)) {
        deletePod(pod, undefined, now);
      }
    }
    return diff !== 0;
  };

  const updateStatus = (deployment: FakeDeployment): boolean => {
    const active = ownedPods(deployment).filter(isActive);
    const ready = active.filter(isReady).length;
    const status = {
      replicas: active.length,
      readyReplicas: ready,
      availableReplicas: ready,
      updatedReplicas: active.length,
    };
    if (JSON.stringify(status) === JSON.stringify(deployment.status)) return false;
    deployment.status = status;
    deployment.resourceVersion = ++revision;
    return true;
  };

  const runKubelet = (pod: FakePod): boolean => {
    if (pod.metadata.deletionTimestamp !== undefined) {
      removePod(pod);
      return true;
    }
    if (pod.status.phase !== "Pending") return false;
    const nowText = rfc3339(Date.now());
    if (pod.spec.nodeName === undefined) {
      changePod(pod, (p) => {
        p.spec.nodeName = NODE_NAME;
        p.status = {
          phase: "Pending",
          conditions: [
            { type: "Initialized", status: "True", lastTransitionTime: nowText },
            {
              type: "Ready",
              status: "False",
              reason: "ContainersNotReady",
              message: "containers with unready status: [worker]",
              lastTransitionTime: nowText,
            },
            {
              type: "ContainersReady",
              status: "False",
              reason: "ContainersNotReady",
              lastTransitionTime: nowText,
            },
            { type: "PodScheduled", status: "True", lastTransitionTime: nowText },
          ],
          containerStatuses: [
            {
              name: "worker",
              image: p.spec.containers[0]?.image ?? "",
              ready: false,
              started: false,
              restartCount: 0,
              state: { waiting: { reason: "ContainerCreating" } },
            },
          ],
          hostIP: "10.0.0.1",
          startTime: nowText,
        };
      });
      return true;
    }
    changePod(pod, (p) => {
      p.status.phase = "Running";
      p.status.podIP = `10.244.0.${(podIpCounter = (podIpCounter % 250) + 1)}`;
      setReadiness(p, true, nowText);
      for (const container of p.status.containerStatuses ?? []) {
        container.started = true;
        container.ready = true;
        container.state = { running: { startedAt: nowText } };
      }
    });
    markReady(pod);
    return true;
  };

  const markReady = (pod: FakePod) => {
    const podOrder = order.get(pod.metadata.uid);
    if (podOrder) podOrder.readySeq = ++sequence;
  };

  const step = (): boolean => {
    let changed = false;
    for (const named of pods.values())
      for (const pod of [...named.values()]) changed = runKubelet(pod) || changed;
    for (const deployment of deployments.values())
      changed = reconcileReplicas(deployment) || changed;
    for (const deployment of deployments.values()) changed = updateStatus(deployment) || changed;
    return changed;
  };

  /**
   * Graceful for a pod on a node; immediate for one never scheduled or
   * already finished, as the pod strategy's CheckGracefulDelete decides.
   */
  const deletePod = (pod: FakePod, gracePeriodSec: number | undefined, nowMs: number): FakePod => {
    if (pod.metadata.deletionTimestamp !== undefined) return pod;
    const grace = gracePeriodSec ?? pod.spec.terminationGracePeriodSeconds;
    if (
      grace === 0 ||
      pod.spec.nodeName === undefined ||
      pod.status.phase === "Succeeded" ||
      pod.status.phase === "Failed"
    ) {
      removePod(pod);
      return pod;
    }
    changePod(pod, (p) => {
      p.metadata.deletionTimestamp = rfc3339(nowMs + grace * 1000);
      p.metadata.deletionGracePeriodSeconds = grace;
    });
    return pod;
  };

  // -------------------------------------------------------------------------
  // The API

  const scaleOf = (deployment: FakeDeployment): Json => {
    // ScaleSpec.replicas is omitempty: a Deployment scaled to zero has spec {}.
    const spec: { [key: string]: Json } =
      deployment.replicas === 0 ? {} : { replicas: deployment.replicas };
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: deployment.name,
        namespace: deployment.namespace,
        uid: deployment.uid,
        resourceVersion: String(deployment.resourceVersion),
        creationTimestamp: deployment.creationTimestamp,
      },
      spec,
      status: { replicas: deployment.status.replicas, selector: formatSelector(deployment.labels) },
    };
  };

  const patchScale = (deployment: FakeDeployment, patched: Json) => {
    const metadata = isRecord(patched) && isRecord(patched.metadata) ? patched.metadata : {};
    checkPrecondition(
      metadata.resourceVersion,
      String(deployment.resourceVersion),
      `deployments.apps "${deployment.name}"`,
    );
    const spec = isRecord(patched) && isRecord(patched.spec) ? patched.spec : {};
    const replicas = spec.replicas ?? 0; // absent is Go's zero value
    if (typeof replicas !== "number" || !Number.isInteger(replicas)) {
      throw new FakeApiError(
        400,
        "BadRequest",
        `json: cannot unmarshal ${JSON.stringify(replicas)} into Go struct field ScaleSpec.spec.replicas of type int32`,
      );
    }
    if (replicas < 0) {
      throw new FakeApiError(
        422,
        "Invalid",
        `Scale.autoscaling "${deployment.name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
        { name: deployment.name, group: "autoscaling", kind: "Scale" },
      );
    }
    if (replicas !== deployment.replicas) {
      deployment.replicas = replicas;
      deployment.generation += 1;
      deployment.resourceVersion = ++revision;
    }
    return scaleOf(deployment);
  };

  const patchPod = (pod: FakePod, patched: Json) => {
    if (!isRecord(patched) || !isRecord(patched.metadata))
      throw new FakeApiError(400, "BadRequest", "the patched object has no metadata");
    const metadata = patched.metadata;
    checkPrecondition(
      metadata.resourceVersion,
      pod.metadata.resourceVersion,
      `pods "${pod.metadata.name}"`,
    );
    const invalid = (field: string, value: unknown, why: string) =>
      new FakeApiError(
        422,
        "Invalid",
        `Pod "${pod.metadata.name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`,
        { name: pod.metadata.name, kind: "Pod" },
      );
    for (const field of ["name", "namespace", "uid", "creationTimestamp"] as const) {
      if (metadata[field] !== pod.metadata[field])
        throw invalid(`metadata.${field}`, metadata[field], "field is immutable");
    }
    if (JSON.stringify(patched.spec) !== JSON.stringify(pod.spec)) {
      throw new FakeApiError(
        422,
        "Invalid",
        `Pod "${pod.metadata.name}" is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`, \`spec.initContainers[*].image\`, \`spec.activeDeadlineSeconds\`, \`spec.tolerations\` (only additions to existing tolerations), \`spec.terminationGracePeriodSeconds\` (allow it to be set to 1 if it was previously negative)`,
      );
    }
    const labels = stringMap(metadata.labels, "labels");
    const annotations = stringMap(metadata.annotations, "annotations");
    const cost = annotations?.[DELETION_COST];
    if (cost !== undefined && !isInt32(cost))
      throw invalid(`metadata.annotations[${DELETION_COST}]`, cost, "must be a 32bit integer");
    // The main resource cannot change status; what the patch says there is dropped.
    changePod(pod, (p) => {
      p.metadata.labels = labels ?? {};
      if (annotations && Object.keys(annotations).length > 0) p.metadata.annotations = annotations;
      else delete p.metadata.annotations;
    });
    return podObject(pod);
  };

  const patchBody = async (request: IncomingMessage, target: Json): Promise<Json> => {
    // The media type is checked before the body is read, as the API server does.
    const contentType = mediaTypeOf(request);
    if (contentType === "application/apply-patch+yaml") {
      throw new FakeApiError(
        415,
        "UnsupportedMediaType",
        "the fake API does not implement server-side apply (application/apply-patch+yaml)",
      );
    }
    if (!PATCH_TYPES.includes(contentType)) {
      throw new FakeApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`,
      );
    }
    const body = await readJson(request);
    if (contentType === "application/json-patch+json") return applyJsonPatch(target, body);
    if (contentType === "application/strategic-merge-patch+json" && hasListsOrDirectives(body)) {
      throw new FakeApiError(
        400,
        "BadRequest",
        "the fake API applies strategic merge patches to maps only (no lists, no $patch directives)",
      );
    }
    return applyMergePatch(target, body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://fake");
    const method = request.method ?? "GET";
    const recorded: FakeRequest = {
      method,
      path: url.pathname,
      query: url.search,
      contentType: request.headers["content-type"],
    };
    requests.push(recorded);
    await requestHook?.(recorded);

    const scale = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)\/scale$/.exec(
      url.pathname,
    );
    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(url.pathname);
    if (scale) {
      const [namespace, name] = [
        decodeURIComponent(scale[1] as string),
        decodeURIComponent(scale[2] as string),
      ];
      const verb = method === "GET" ? "get" : method.toLowerCase();
      checkAllowed(verb, "deployments/scale", namespace, name);
      const deployment = findDeployment(namespace, name);
      if (method === "GET") return sendJson(response, 200, scaleOf(deployment));
      if (method === "PATCH")
        return sendJson(
          response,
          200,
          patchScale(deployment, await patchBody(request, scaleOf(deployment))),
        );
      throw methodNotAllowed();
    }
    if (podPath) {
      const namespace = decodeURIComponent(podPath[1] as string);
      const name = podPath[2] === undefined ? undefined : decodeURIComponent(podPath[2]);
      if (name === undefined) {
        if (method !== "GET") throw methodNotAllowed();
        checkAllowed(
          isTrue(url.searchParams.get("watch")) ? "watch" : "list",
          "pods",
          namespace,
          undefined,
        );
        if (isTrue(url.searchParams.get("watch")))
          throw new FakeApiError(
            405,
            "MethodNotAllowed",
            "the fake API does not serve watches of pods",
          );
        return sendJson(response, 200, listPods(namespace, url.searchParams));
      }
      checkAllowed(method === "GET" ? "get" : method.toLowerCase(), "pods", namespace, name);
      const pod = findPod(namespace, name);
      switch (method) {
        case "GET":
          return sendJson(response, 200, podObject(pod));
        case "PATCH":
          return sendJson(
            response,
            200,
            patchPod(pod, await patchBody(request, podObject(pod) as unknown as Json)),
          );
        case "DELETE": {
          const options = await readDeleteOptions(request);
          const uid = isRecord(options.preconditions) ? options.preconditions.uid : undefined;
          if (typeof uid === "string" && uid !== pod.metadata.uid) {
            throw new FakeApiError(
              409,
              "Conflict",
              `Operation cannot be fulfilled on pods "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid}`,
              { name, kind: "pods" },
            );
          }
          const queryGrace = url.searchParams.get("gracePeriodSeconds");
          const grace =
            typeof options.gracePeriodSeconds === "number"
              ? options.gracePeriodSeconds
              : queryGrace === null
                ? undefined
                : Number(queryGrace);
          return sendJson(response, 200, podObject(deletePod(pod, grace, Date.now())));
        }
        default:
          throw methodNotAllowed();
      }
    }
    throw new FakeApiError(404, "NotFound", "the server could not find the requested resource");
  };

  const checkAllowed = (
    verb: string,
    resource: "pods" | "deployments/scale",
    namespace: string,
    name: string | undefined,
  ) => {
    const isRefused =
      forbidden === true ||
      (typeof forbidden === "object" && forbidden.verb === verb && forbidden.resource === resource);
    if (!isRefused) return;
    const group = resource === "pods" ? "" : "apps";
    const subject = resource === "pods" ? "pods" : "deployments.apps";
    const what = name === undefined ? subject : `${subject} "${name}"`;
    throw new FakeApiError(
      403,
      "Forbidden",
      `${what} is forbidden: User "system:serviceaccount:${namespace}:default" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`,
      {
        ...(name === undefined ? {} : { name }),
        group,
        kind: resource.split("/")[0],
      },
    );
  };

  const listPods = (namespace: string, query: URLSearchParams) => {
    const labelMatch = parseLabelSelector(query.get("labelSelector") ?? "");
    const fieldMatch = parseFieldSelector(query.get("fieldSelector") ?? "");
    const items = [...podsIn(namespace).values()]
      .filter((pod) => labelMatch(pod.metadata.labels) && fieldMatch(pod))
      .sort((a, b) => compareText(a.metadata.name, b.metadata.name))
      .map((pod) => structuredClone(pod));
    return {
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: String(revision) },
      items,
    };
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const failure =
        error instanceof FakeApiError
          ? error
          : new FakeApiError(500, "InternalError", String(error));
      if (response.headersSent) return void response.end();
      sendJson(response, failure.code, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: failure.message,
        reason: failure.reason,
        ...(failure.details ? { details: failure.details } : {}),
        code: failure.code,
      });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const ticker =
    options.autoStepMs === undefined ? undefined : setInterval(step, options.autoStepMs);

  const podFor = (namespace: string, name: string) => {
    const pod = podsIn(namespace).get(name);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    return pod;
  };

  return {
    url,
    kubeConfig: () => fakeKubeConfig(url),
    createDeployment: (namespace, spec) => {
      const key = `${namespace}/${spec.name}`;
      if (deployments.has(key)) throw new Error(`deployment ${key} exists`);
      deployments.set(key, {
        name: spec.name,
        namespace,
        uid: randomUUID(),
        creationTimestamp: rfc3339(Date.now()),
        labels: { ...spec.labels },
        image: spec.image ?? "registry.k8s.io/pause:3.9",
        replicaSetName: `${spec.name}-${templateHash(spec.name)}`,
        replicaSetUid: randomUUID(),
        resourceVersion: ++revision,
        generation: 1,
        replicas: spec.replicas,
        status: { replicas: 0, readyReplicas: 0, availableReplicas: 0, updatedReplicas: 0 },
      });
    },
    deployment: (namespace, name) => {
      const deployment = deployments.get(`${namespace}/${name}`);
      if (!deployment) throw new Error(`no deployment ${namespace}/${name}`);
      return { replicas: deployment.replicas, resourceVersion: String(deployment.resourceVersion) };
    },
    pods: (namespace) =>
      [...podsIn(namespace).values()]
        .sort(
          (a, b) =>
            (order.get(a.metadata.uid)?.createdSeq ?? 0) -
            (order.get(b.metadata.uid)?.createdSeq ?? 0),
        )
        .map((pod) => structuredClone(pod)),
    pod: (namespace, name) => {
      const pod = podsIn(namespace).get(name);
      return pod ? structuredClone(pod) : undefined;
    },
    step,
    settle: () => {
      for (let round = 0; round < 100; round += 1) if (!step()) return;
      throw new Error("the fake controllers did not settle within 100 steps");
    },
    crashLoopPod: (namespace, name) =>
      changePod(podFor(namespace, name), (p) => {
        p.status.phase = "Running";
        setReadiness(p, false, rfc3339(Date.now()));
        for (const container of p.status.containerStatuses ?? []) {
          container.ready = false;
          container.restartCount += 3;
          container.state = {
            waiting: {
              reason: "CrashLoopBackOff",
              message: `back-off 40s restarting failed container=${container.name} pod=${p.metadata.name}`,
            },
          };
          container.lastState = { terminated: { exitCode: 1, reason: "Error" } };
        }
      }),
    evictPod: (namespace, name) =>
      changePod(podFor(namespace, name), (p) => {
        p.status.phase = "Failed";
        p.status.reason = "Evicted";
        p.status.message = "The node was low on resource: memory.";
        setReadiness(p, false, rfc3339(Date.now()));
        for (const container of p.status.containerStatuses ?? []) {
          container.ready = false;
          container.state = { terminated: { exitCode: 137, reason: "Error" } };
        }
      }),
    setPodReady: (namespace, name, isReadyNow) => {
      const pod = podFor(namespace, name);
      changePod(pod, (p) => {
        setReadiness(p, isReadyNow, rfc3339(Date.now()));
        for (const container of p.status.containerStatuses ?? []) container.ready = isReadyNow;
      });
      if (isReadyNow) markReady(pod);
    },
    annotatePod: (namespace, name, annotations) =>
      changePod(podFor(namespace, name), (p) => {
        const merged: Record<string, string> = { ...p.metadata.annotations };
        for (const [key, value] of Object.entries(annotations)) {
          if (value === null) delete merged[key];
          else merged[key] = value;
        }
        p.metadata.annotations = merged;
      }),
    touchDeployment: (namespace, name) => {
      findDeployment(namespace, name).resourceVersion = ++revision;
    },
    setForbidden: (rule) => void (forbidden = rule),
    onRequest: (hook) => void (requestHook = hook),
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// The ReplicaSet controller's ranking (pkg/controller/controller_utils.go)

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** Active pods in the order the ReplicaSet controller deletes them, first to go first. */
function rankForDeletion(
  active: readonly FakePod[],
  related: readonly FakePod[],
  order: ReadonlyMap<string, PodOrder>,
): FakePod[] {
  const podsOnNode = new Map<string, number>();
  for (const pod of related) {
    if (isActive(pod))
      podsOnNode.set(pod.spec.nodeName ?? "", (podsOnNode.get(pod.spec.nodeName ?? "") ?? 0) + 1);
  }
  const rank = (pod: FakePod) => podsOnNode.get(pod.spec.nodeName ?? "") ?? 0;
  const seq = (pod: FakePod) => order.get(pod.metadata.uid) ?? { createdSeq: 0, readySeq: 0 };
  const compare = (a: FakePod, b: FakePod): number => {
    // 1. Unassigned < assigned.
    const aNode = a.spec.nodeName ?? "";
    const bNode = b.spec.nodeName ?? "";
    if (aNode !== bNode && (aNode === "" || bNode === "")) return aNode === "" ? -1 : 1;
    // 2. Pending < Unknown < Running.
    const phaseDiff = (PHASE_ORDINAL[a.status.phase] ?? 0) - (PHASE_ORDINAL[b.status.phase] ?? 0);
    if (phaseDiff !== 0) return phaseDiff;
    // 3. Not ready < ready.
    if (isReady(a) !== isReady(b)) return isReady(a) ? 1 : -1;
    // 4. Lower pod-deletion-cost < higher (unparsable counts as 0, as GetDeletionCostFromPodAnnotations' caller ignores the error).
    const costDiff = deletionCost(a) - deletionCost(b);
    if (costDiff !== 0) return costDiff;
    // 5. Doubled up < not doubled up.
    if (rank(a) !== rank(b)) return rank(b) - rank(a);
    // 6. Both ready: ready for less time < more time.
    if (isReady(a) && isReady(b)) {
      const readyDiff = timeOf(readySince(b)) - timeOf(readySince(a));
      if (readyDiff !== 0) return readyDiff;
      if (seq(a).readySeq !== seq(b).readySeq) return seq(b).readySeq - seq(a).readySeq;
    }
    // 7. More restarts < fewer.
    const restartDiff = maxRestarts(b) - maxRestarts(a);
    if (restartDiff !== 0) return restartDiff;
    // 8. Newer < older.
    const createdDiff = timeOf(b.metadata.creationTimestamp) - timeOf(a.metadata.creationTimestamp);
    if (createdDiff !== 0) return createdDiff;
    return seq(b).createdSeq - seq(a).createdSeq;
  };
  return [...active].sort(compare);
}

function isActive(pod: FakePod): boolean {
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.status.phase !== "Succeeded" &&
    pod.status.phase !== "Failed"
  );
}

function isReady(pod: FakePod): boolean {
  return pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function readySince(pod: FakePod): string | undefined {
  return pod.status.conditions?.find((c) => c.type === "Ready" && c.status === "True")
    ?.lastTransitionTime;
}

function deletionCost(pod: FakePod): number {
  const text = pod.metadata.annotations?.[DELETION_COST];
  return text !== undefined && isInt32(text) ? Number(text) : 0;
}

function maxRestarts(pod: FakePod): number {
  return Math.max(0, ...(pod.status.containerStatuses ?? []).map((c) => c.restartCount));
}

function setReadiness(pod: FakePod, isReadyNow: boolean, nowText: string) {
  const conditions = pod.status.conditions ?? [];
  const status = isReadyNow ? "True" : "False";
  for (const type of ["Ready", "ContainersReady"]) {
    const previous = conditions.find((c) => c.type === type);
    // lastTransitionTime moves only when the status does.
    const since = previous?.status === status ? (previous.lastTransitionTime ?? nowText) : nowText;
    const next: FakePodCondition = isReadyNow
      ? { type, status, lastTransitionTime: since }
      : {
          type,
          status,
          reason: "ContainersNotReady",
          message: "containers with unready status: [worker]",
          lastTransitionTime: since,
        };
    const index = conditions.findIndex((c) => c.type === type);
    if (index >= 0) conditions[index] = next;
    else conditions.push(next);
  }
  pod.status.conditions = conditions;
}

// ---------------------------------------------------------------------------
// Selectors, preconditions, wire helpers

/** Label selectors as the API server parses them: a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x,y). */
function parseLabelSelector(text: string): (labels: Record<string, string>) => boolean {
  const terms: ((labels: Record<string, string>) => boolean)[] = [];
  for (const term of splitOutsideParens(text)) {
    const set = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const [, key, operator, list] = set as unknown as [string, string, string, string];
      const values = list.split(",").map((v) => v.trim());
      terms.push(
        operator === "in"
          ? (l) => key in l && values.includes(l[key] as string)
          : (l) => !(key in l) || !values.includes(l[key] as string),
      );
      continue;
    }
    const equality = /^([^\s!=()]+)\s*(!=|==|=)\s*([^\s!=()]*)$/.exec(term);
    if (equality) {
      const [, key, operator, value] = equality as unknown as [string, string, string, string];
      terms.push(operator === "!=" ? (l) => l[key] !== value : (l) => l[key] === value);
      continue;
    }
    if (/^!?[^\s!=()]+$/.test(term)) {
      const key = term.replace(/^!/, "");
      terms.push(term.startsWith("!") ? (l) => !(key in l) : (l) => key in l);
      continue;
    }
    throw new FakeApiError(
      400,
      "BadRequest",
      `unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`,
    );
  }
  return (labels) => terms.every((matches) => matches(labels));
}

function splitOutsideParens(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if (char === "(") depth += 1;
    if (char === ")") depth -= 1;
    if (char === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const POD_FIELDS: Record<string, (pod: FakePod) => string> = {
  "metadata.name": (pod) => pod.metadata.name,
  "metadata.namespace": (pod) => pod.metadata.namespace,
  "status.phase": (pod) => pod.status.phase,
  "spec.nodeName": (pod) => pod.spec.nodeName ?? "",
};

function parseFieldSelector(text: string): (pod: FakePod) => boolean {
  const terms = text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .map((term) => {
      const match = /^([^!=]+?)\s*(!=|==|=)\s*(.*)$/.exec(term);
      if (!match) throw new FakeApiError(400, "BadRequest", `invalid field selector: '${term}'`);
      const [, field, operator, value] = match as unknown as [string, string, string, string];
      const read = POD_FIELDS[field];
      if (!read) throw new FakeApiError(400, "BadRequest", `field label not supported: ${field}`);
      return operator === "!="
        ? (pod: FakePod) => read(pod) !== value
        : (pod: FakePod) => read(pod) === value;
    });
  return (pod) => terms.every((matches) => matches(pod));
}

function matchesLabels(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** metav1.FormatLabelSelector of matchLabels: keys sorted, comma-joined. */
function formatSelector(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(",");
}

function checkPrecondition(wanted: unknown, current: string, what: string) {
  if (wanted === undefined || wanted === null || wanted === "" || wanted === current) return;
  throw new FakeApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`,
  );
}

function stringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value) || Array.isArray(value))
    throw new FakeApiError(
      400,
      "BadRequest",
      `json: cannot unmarshal into Go struct field ObjectMeta.metadata.${field} of type map[string]string`,
    );
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string")
      throw new FakeApiError(
        400,
        "BadRequest",
        `json: cannot unmarshal ${typeof item} into Go struct field ObjectMeta.metadata.${field} of type string`,
      );
    result[key] = item;
  }
  return result;
}

function isInt32(text: string): boolean {
  return /^-?\d+$/.test(text) && Number(text) >= -2147483648 && Number(text) <= 2147483647;
}

function podObject(pod: FakePod): Record<string, unknown> {
  return { kind: "Pod", apiVersion: "v1", ...structuredClone(pod) };
}

function methodNotAllowed(): FakeApiError {
  return new FakeApiError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
  );
}

function mediaTypeOf(request: IncomingMessage): string {
  return (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function readJson(request: IncomingMessage): Promise<Json> {
  const text = await readText(request);
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new FakeApiError(
      400,
      "BadRequest",
      `error decoding patch: invalid character in ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
}

async function readDeleteOptions(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(request);
  if (text.trim() === "") return {};
  try {
    const body: unknown = JSON.parse(text);
    return isRecord(body) ? body : {};
  } catch {
    throw new FakeApiError(400, "BadRequest", "the DeleteOptions in the body are not JSON");
  }
}

function isTrue(value: string | null): boolean {
  return value !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(value);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Timestamps on the wire have one-second resolution (RFC 3339 without a fraction). */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function timeOf(text: string | undefined): number {
  return text === undefined ? 0 : Date.parse(text);
}

// The alphabet of k8s.io/apimachinery/pkg/util/rand (no vowels, no lookalikes).
const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(length: number): string {
  let text = "";
  for (let i = 0; i < length; i += 1)
    text += ALPHANUMS[Math.floor(Math.random() * ALPHANUMS.length)];
  return text;
}

/** A stable 10-character pod-template-hash for a Deployment's only ReplicaSet. */
function templateHash(name: string): string {
  let hash = 2166136261;
  let text = "";
  for (let i = 0; i < 10; i += 1) {
    for (const char of `${name}/${i}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    text += ALPHANUMS[hash % ALPHANUMS.length];
  }
  return text;
}

// ---------------------------------------------------------------------------
// Patches: RFC 7386 merge patch and RFC 6902 JSON patch, with the messages of
// the libraries the API server uses (evanphx/json-patch)

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isJsonObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function applyMergePatch(target: Json, patch: Json): Json {
  if (!isJsonObject(patch)) return structuredClone(patch);
  const result: { [key: string]: Json } = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key] ?? null, value);
  }
  return result;
}

/** Whether a strategic merge patch needs more than merge-patch semantics (lists are merged by key there, and $ keys are directives). */
function hasListsOrDirectives(patch: Json): boolean {
  if (Array.isArray(patch)) return true;
  if (!isJsonObject(patch)) return false;
  return Object.entries(patch).some(
    ([key, value]) => key.startsWith("$") || hasListsOrDirectives(value),
  );
}

function pointerTokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/"))
    throw new FakeApiError(
      422,
      "Invalid",
      `JSON pointer must be empty or start with a "/": ${pointer}`,
    );
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function valueAt(doc: Json, tokens: readonly string[]): Json | undefined {
  let current: Json | undefined = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) current = /^\d+$/.test(token) ? current[Number(token)] : undefined;
    else if (isJsonObject(current))
      current = Object.hasOwn(current, token) ? current[token] : undefined;
    else return undefined;
  }
  return current;
}

function applyJsonPatch(target: Json, patch: Json): Json {
  if (!Array.isArray(patch))
    throw new FakeApiError(
      400,
      "BadRequest",
      "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
  let doc = structuredClone(target);
  const unprocessable = (message: string) => new FakeApiError(422, "Invalid", message);
  /** Writes (value) or removes (undefined) at path; isInsert: an array index shifts what follows. */
  const put = (path: string, value: Json | undefined, isInsert: boolean) => {
    const tokens = pointerTokens(path);
    if (tokens.length === 0) {
      if (value === undefined) throw unprocessable("cannot remove the whole document");
      doc = value;
      return;
    }
    const parent = valueAt(doc, tokens.slice(0, -1));
    const key = tokens[tokens.length - 1] as string;
    if (Array.isArray(parent)) {
      const index = key === "-" ? parent.length : /^\d+$/.test(key) ? Number(key) : -1;
      const limit = isInsert ? parent.length : parent.length - 1;
      if (index < 0 || index > limit)
        throw unprocessable(`Unable to access invalid index: ${index}: invalid index referenced`);
      if (value === undefined) parent.splice(index, 1);
      else parent.splice(index, isInsert ? 0 : 1, value);
    } else if (isJsonObject(parent)) {
      if (value === undefined) delete parent[key];
      else parent[key] = value;
    } else {
      throw unprocessable(
        `add operation does not apply: doc is missing path: "${path}": missing value`,
      );
    }
  };
  for (const operation of patch) {
    if (
      !isJsonObject(operation) ||
      typeof operation.op !== "string" ||
      typeof operation.path !== "string"
    ) {
      throw new FakeApiError(
        400,
        "BadRequest",
        "json: every JSON patch operation needs op and path strings",
      );
    }
    const { op, path } = operation;
    const value = operation.value;
    const from = typeof operation.from === "string" ? operation.from : undefined;
    const exists = (pointer: string) => valueAt(doc, pointerTokens(pointer)) !== undefined;
    switch (op) {
      case "add":
        if (value === undefined) throw unprocessable("add operation has no value");
        put(path, structuredClone(value), true);
        break;
      case "remove":
        if (!exists(path))
          throw unprocessable(`Unable to remove nonexistent key: ${path}: missing value`);
        put(path, undefined, false);
        break;
      case "replace":
        if (value === undefined) throw unprocessable("replace operation has no value");
        if (!exists(path))
          throw unprocessable(
            `replace operation does not apply: doc is missing key: ${path}: missing value`,
          );
        put(path, structuredClone(value), false);
        break;
      case "test":
        if (JSON.stringify(valueAt(doc, pointerTokens(path))) !== JSON.stringify(value))
          throw unprocessable(`testing value ${path} failed: test failed`);
        break;
      case "move":
      case "copy": {
        if (from === undefined || !exists(from))
          throw unprocessable(
            `${op} operation does not apply: doc is missing from path: ${from ?? ""}: missing value`,
          );
        const moved = structuredClone(valueAt(doc, pointerTokens(from)) as Json);
        if (op === "move") put(from, undefined, false);
        put(path, moved, true);
        break;
      }
      default:
        throw new FakeApiError(400, "BadRequest", `Unexpected kind: ${op}`);
    }
  }
  return doc;
}
