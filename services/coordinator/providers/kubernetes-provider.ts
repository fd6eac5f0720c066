// The kubernetes provider: workers are the pods of one Deployment, each
// registering under its pod name. It moves the Deployment's `scale`
// subresource and leaves pod creation and deletion to the ReplicaSet
// controller; to choose which pods a scale-down removes it marks them with
// the lowest controller.kubernetes.io/pod-deletion-cost first, and it refuses
// a scale-down when the controller would take some other pod instead (one not
// yet ready ranks ahead of any deletion cost), because that pod may be busy.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import type {
  ProvidedState,
  ProvidedWorker,
  ProviderCapabilities,
  WorkerProvider,
  WorkerHealth,
} from "./worker-provider.js";
import { abortWith } from "../../../libs/discovery/k8s-abort.js";
import { setTimeout as delay } from "node:timers/promises";

export interface KubernetesProviderOptions {
  /** The cluster to act on; by default loadFromDefault(): KUBECONFIG, ~/.kube/config, or the pod's service account. */
  readonly kubeConfig?: KubeConfig;
  readonly namespace: string;
  /** The worker Deployment's name. */
  readonly deployment: string;
  /** Selects the Deployment's pods (and only them), e.g. "app=scalemesh-worker". */
  readonly labelSelector: string;
  readonly logger: Logger;
  readonly clock?: { now(): number };
  /** How long start() waits for the new pods to exist so it can name them; 0 looks once. */
  readonly startWaitMs?: number;
  /** Each API request gives up after this long. */
  readonly requestTimeoutMs?: number;
}

/**
 * The kubelet restarts a drained agent's container when it exits, so the loop
 * lowers the replicas as it drains: the pod's own SIGTERM then ends the
 * agent, which finishes its tasks within the pod's grace period.
 */
export const KUBERNETES_CAPABILITIES: ProviderCapabilities = {
  canStart: true,
  canStop: true,
  stopOnScaleDown: "with-drain",
};

export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
/** int32's minimum: nothing can rank a pod cheaper, so only another pod at this cost can tie. */
export const DRAINED_POD_DELETION_COST = "-2147483648";
/** Marks the pods whose deletion cost this provider set, so a cost left by a refused or failed stop() is taken back. */
export const SCALE_DOWN_MARK = "scalemesh/scale-down-requested-at";

/** Why a scale-down was refused. */
export const ScaleDownRefusal = {
  /** The ReplicaSet is creating or deleting pods: lowering replicas now would remove a different number than asked. */
  NotSettled: "DeploymentNotSettled",
  /** Another pod ranks ahead of the marked ones in the ReplicaSet controller's deletion order. */
  OtherPodFirst: "OtherPodDeletedFirst",
} as const;
export type ScaleDownRefusal = (typeof ScaleDownRefusal)[keyof typeof ScaleDownRefusal];

/** Waiting reasons a container does not get out of by itself. */
const FAILING_WAIT_REASONS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);
/** Optimistic-concurrency retries of a scale patch (the Deployment controller writes status often). */
const MAX_SCALE_ATTEMPTS = 5;
const START_POLL_MS = 250;

export function createKubernetesProvider(options: KubernetesProviderOptions): WorkerProvider {
  const { namespace, deployment, labelSelector } = options;
  const clock = options.clock ?? { now: Date.now };
  const startWaitMs = options.startWaitMs ?? 0;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const logger = options.logger.child({ namespace, deployment });
  const closing = new AbortController();
  let clients: { apps: AppsV1Api; core: CoreV1Api; server: string } | undefined;

  const api = () => {
    if (!clients) {
      const kubeConfig = options.kubeConfig ?? defaultKubeConfig();
      clients = {
        apps: kubeConfig.makeApiClient(AppsV1Api),
        core: kubeConfig.makeApiClient(CoreV1Api),
        server: kubeConfig.getCurrentCluster()?.server ?? "(no cluster)",
      };
    }
    return clients;
  };

  /** Every request carries the close signal and a timeout; a patch also its content type. */
  const requestOptions = (
    patchType?: PatchStrategy,
  ): ConfigurationOptions<ObservableMiddleware> => {
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(requestTimeoutMs)]);
    const base: ConfigurationOptions<ObservableMiddleware> = {
      middleware: [abortWith(signal)],
      middlewareMergeStrategy: "append",
    };
    // The generated client sends the first type it lists, application/json-patch+json, unless told otherwise.
    return patchType ? setHeaderOptions("Content-Type", patchType, base) : base;
  };

  const fail = (action: string, error: unknown) =>
    describeFailure({
      action,
      error,
      namespace,
      deployment,
      server: clients?.server ?? "(no cluster)",
    });
  const call = async <T>(action: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw fail(action, error);
    }
  };

  const listPods = async (fieldSelector?: string): Promise<V1Pod[]> => {
    const list = await call(`listing pods ${labelSelector}`, () =>
      api().core.listNamespacedPod(
        { namespace, labelSelector, ...(fieldSelector ? { fieldSelector } : {}) },
        requestOptions(),
      ),
    );
    return list.items.filter((pod) => pod.metadata?.name);
  };
  /**
   * One of our pods by name: the label selector keeps pods of anything else
   * out of reach, and an id that cannot be a pod name is not spliced into a
   * field selector (where a comma or an operator would change its meaning).
   */
  const findPod = async (workerId: string) =>
    isPodName(workerId) ? (await listPods(`metadata.name=${workerId}`))[0] : undefined;

  const patchPodAnnotations = (name: string, annotations: Record<string, string | null>) =>
    call(`annotating pod ${name}`, () =>
      api().core.patchNamespacedPod(
        { name, namespace, body: { metadata: { annotations } } },
        requestOptions(PatchStrategy.MergePatch),
      ),
    );

  /**
   * Reads the scale, asks `decide` for the new replica count (undefined: leave
   * it), and patches it with the read resourceVersion as a precondition, so a
   * concurrent change is never overwritten; on 409 Conflict it starts again.
   */
  const changeReplicas = async (
    action: string,
    decide: (replicas: number) => Promise<number | undefined>,
  ) => {
    for (let attempt = 1; ; attempt += 1) {
      const scale = await call(`reading the scale of deployment ${deployment}`, () =>
        api().apps.readNamespacedDeploymentScale({ name: deployment, namespace }, requestOptions()),
      );
      const replicas = scale.spec?.replicas ?? 0; // omitted when 0
      const wanted = await decide(replicas);
      if (wanted === undefined || wanted === replicas) return { from: replicas, to: replicas };
      const body = {
        metadata: { resourceVersion: scale.metadata?.resourceVersion },
        spec: { replicas: wanted },
      };
      try {
        await api().apps.patchNamespacedDeploymentScale(
          { name: deployment, namespace, body, fieldManager: "scalemesh-coordinator" },
          requestOptions(PatchStrategy.MergePatch),
        );
        return { from: replicas, to: wanted };
      } catch (error) {
        if (statusCodeOf(error) === 409 && attempt < MAX_SCALE_ATTEMPTS) {
          logger.debug(
            { attempt },
            "the deployment changed between read and patch; reading it again",
          );
          continue;
        }
        throw fail(
          `${action}: patching the scale of deployment ${deployment} from ${replicas} to ${wanted} replicas`,
          error,
        );
      }
    }
  };

  const start = async (count: number): Promise<readonly string[]> => {
    if (!Number.isInteger(count) || count < 0)
      throw new Error(
        `kubernetes provider, deployment ${namespace}/${deployment}: cannot start ${count} workers`,
      );
    if (count === 0) return [];
    const before = new Set((await listPods()).map(nameOf));
    const { from, to } = await changeReplicas(
      `starting ${count}`,
      async (replicas) => replicas + count,
    );
    logger.info(
      { from, to },
      `raised the deployment's replicas from ${from} to ${to} to start ${count} workers`,
    );
    const deadlineMs = clock.now() + startWaitMs;
    for (;;) {
      const fresh = (await listPods())
        .filter((pod) => isActive(pod) && !before.has(nameOf(pod)))
        .sort(byCreation);
      if (fresh.length >= count || clock.now() >= deadlineMs || closing.signal.aborted)
        return fresh.slice(0, count).map(nameOf);
      await sleep(Math.min(START_POLL_MS, deadlineMs - clock.now()), closing.signal);
    }
  };

  const unmark = (names: readonly string[]) =>
    Promise.all(
      names.map((name) =>
        patchPodAnnotations(name, { [POD_DELETION_COST]: null, [SCALE_DOWN_MARK]: null }),
      ),
    );

  const stop = async (workerIds: readonly string[]): Promise<void> => {
    if (workerIds.length === 0) return;
    // A mark a failed stop() left on a pod the coordinator kept would make that pod go first.
    const stale = (await listPods()).filter(
      (pod) =>
        pod.metadata?.annotations?.[SCALE_DOWN_MARK] !== undefined &&
        isActive(pod) &&
        !workerIds.includes(nameOf(pod)),
    );
    await unmark(stale.map(nameOf));
    const marked: string[] = [];
    let skipped: readonly SkippedWorker[] = [];
    try {
      const { from, to } = await changeReplicas(
        `stopping ${workerIds.join(", ")}`,
        async (replicas) => {
          const plan = planScaleDown({ pods: await listPods(), workerIds, replicas });
          skipped = plan.skipped;
          if (plan.kind === "nothing") return undefined;
          if (plan.kind === "refused")
            throw new Error(
              `kubernetes provider, deployment ${namespace}/${deployment}: not stopping ${workerIds.join(", ")} (${plan.reason}): ${plan.message}`,
            );
          const at = new Date(clock.now()).toISOString();
          for (const name of plan.targets.filter((target) => !marked.includes(target))) {
            await patchPodAnnotations(name, {
              [POD_DELETION_COST]: DRAINED_POD_DELETION_COST,
              [SCALE_DOWN_MARK]: at,
            });
            marked.push(name);
          }
          return plan.replicasAfter;
        },
      );
      for (const skip of skipped)
        logger.info(
          { workerId: skip.workerId },
          `${skip.workerId} was not counted in the scale-down: ${skip.why}`,
        );
      if (from !== to)
        logger.info(
          { from, to, workerIds: marked },
          `lowered the deployment's replicas from ${from} to ${to}; the ReplicaSet deletes the marked pods ${marked.join(", ")}`,
        );
    } catch (error) {
      // Best effort: a mark left behind is cleared by the next stop().
      await unmark(marked).catch((unmarkError: unknown) =>
        logger.warn({ err: unmarkError }, "could not take back the pod-deletion-cost marks"),
      );
      throw error;
    }
  };

  const replace = async (workerId: string): Promise<void> => {
    const pod = await findPod(workerId);
    if (!pod || pod.metadata?.deletionTimestamp) {
      logger.info(
        { workerId },
        `pod ${workerId} is already ${pod ? "terminating" : "gone"}; the ReplicaSet makes its replacement`,
      );
      return;
    }
    try {
      // The uid precondition deletes this pod and never a namesake made since.
      await api().core.deleteNamespacedPod(
        { name: workerId, namespace, body: { preconditions: { uid: pod.metadata?.uid } } },
        requestOptions(),
      );
      logger.info(
        { workerId, detail: describePod(pod).detail },
        `deleted pod ${workerId}; the ReplicaSet makes its replacement`,
      );
    } catch (error) {
      const code = statusCodeOf(error);
      if (code === 404 || code === 409) return; // gone, or already replaced, meanwhile
      throw fail(`deleting pod ${workerId}`, error);
    }
  };

  return {
    kind: "kubernetes",
    capabilities: KUBERNETES_CAPABILITIES,
    list: async () => (await listPods()).sort(byCreation).map(toProvidedWorker),
    start,
    stop,
    replace,
    health: async (workerId) => healthOf(await findPod(workerId)),
    close: async () => closing.abort(new Error("the kubernetes provider was closed")),
  };
}

// ---------------------------------------------------------------------------
// Pods as workers (pure)

export function describePod(pod: V1Pod): { state: ProvidedState; detail: string } {
  const phase = pod.status?.phase ?? "Pending";
  const containers = pod.status?.containerStatuses ?? [];
  const waiting = containers
    .map((c) => c.state?.waiting?.reason)
    .filter((r): r is string => r !== undefined);
  const restarts = Math.max(0, ...containers.map((c) => c.restartCount ?? 0));
  const withReason = (...parts: (string | undefined)[]) =>
    parts.filter((p) => p !== undefined && p !== "").join(": ");
  if (pod.metadata?.deletionTimestamp)
    return { state: "stopping", detail: `${phase}, terminating` };
  if (phase === "Succeeded")
    return { state: "exited", detail: withReason("Succeeded", pod.status?.reason) };
  if (phase === "Failed")
    return {
      state: "failed",
      detail: withReason("Failed", pod.status?.reason, pod.status?.message),
    };
  if (phase === "Unknown")
    return { state: "failed", detail: "Unknown: the pod's node stopped reporting" };
  const failing = waiting.find((reason) => FAILING_WAIT_REASONS.has(reason));
  if (failing)
    return {
      state: "failed",
      detail: `${phase}: ${failing}${restarts > 0 ? ` (${restarts} restarts)` : ""}`,
    };
  if (phase === "Running")
    return isPodReady(pod)
      ? { state: "running", detail: "Running, ready" }
      : { state: "starting", detail: withReason("Running, not ready", waiting[0]) };
  return {
    state: "starting",
    detail: withReason(phase, waiting[0] ?? (pod.spec?.nodeName ? undefined : "not scheduled yet")),
  };
}

export function healthOf(pod: V1Pod | undefined): WorkerHealth {
  if (!pod) return "gone";
  if (pod.metadata?.deletionTimestamp) return "unhealthy";
  if (pod.status?.phase === "Unknown") return "unknown";
  return isPodReady(pod) ? "healthy" : "unhealthy";
}

function toProvidedWorker(pod: V1Pod): ProvidedWorker {
  const { state, detail } = describePod(pod);
  const startedAtMs = pod.status?.startTime?.getTime();
  return {
    workerId: nameOf(pod),
    state,
    detail,
    ...(startedAtMs === undefined ? {} : { startedAtMs }),
  };
}

// ---------------------------------------------------------------------------
// Choosing a scale-down the ReplicaSet controller will carry out as asked (pure)

export interface SkippedWorker {
  readonly workerId: string;
  readonly why: string;
}

export type ScaleDownPlan =
  | {
      readonly kind: "remove";
      readonly targets: readonly string[];
      readonly replicasAfter: number;
      readonly skipped: readonly SkippedWorker[];
    }
  | { readonly kind: "nothing"; readonly skipped: readonly SkippedWorker[] }
  | {
      readonly kind: "refused";
      readonly reason: ScaleDownRefusal;
      readonly message: string;
      readonly skipped: readonly SkippedWorker[];
    };

/**
 * Which of `workerIds` a scale-down can remove, and whether lowering the
 * replicas by that many makes the ReplicaSet controller delete exactly them.
 * Its order (controller_utils.go ActivePodsWithRanks) puts unscheduled before
 * scheduled, Pending before Unknown before Running, and not ready before
 * ready, and only then looks at pod-deletion-cost; so every marked pod must
 * come strictly before every other pod on those four keys.
 */
export function planScaleDown(input: {
  pods: readonly V1Pod[];
  workerIds: readonly string[];
  replicas: number;
}): ScaleDownPlan {
  const byName = new Map(input.pods.map((pod) => [nameOf(pod), pod]));
  const skipped: SkippedWorker[] = [];
  const targets: V1Pod[] = [];
  for (const workerId of new Set(input.workerIds)) {
    const pod = byName.get(workerId);
    // Pods the controller no longer counts are not in the replicas: lowering them by one for such a pod would take a live one.
    if (!pod) skipped.push({ workerId, why: "no such pod (already gone)" });
    else if (pod.metadata?.deletionTimestamp)
      skipped.push({ workerId, why: "already terminating" });
    else if (!isActive(pod))
      skipped.push({ workerId, why: `already finished (${pod.status?.phase})` });
    else targets.push(pod);
  }
  if (targets.length === 0) return { kind: "nothing", skipped };
  const active = input.pods.filter(isActive);
  if (active.length !== input.replicas) {
    const message = `the ReplicaSet has ${active.length} active pods for ${input.replicas} replicas, so lowering them by ${targets.length} would delete ${active.length - input.replicas + targets.length}; retry when it has settled`;
    return { kind: "refused", reason: ScaleDownRefusal.NotSettled, message, skipped };
  }
  const targetNames = new Set(targets.map(nameOf));
  for (const other of active) {
    if (targetNames.has(nameOf(other))) continue;
    for (const target of targets) {
      const why = outranks(other, target);
      if (why !== undefined) {
        const message = `the ReplicaSet controller would delete pod ${nameOf(other)} (${why}) before ${nameOf(target)}, whatever its pod-deletion-cost; retry when ${nameOf(other)} is ready, or replace it`;
        return { kind: "refused", reason: ScaleDownRefusal.OtherPodFirst, message, skipped };
      }
    }
  }
  return {
    kind: "remove",
    targets: [...targetNames],
    replicasAfter: Math.max(0, input.replicas - targets.length),
    skipped,
  };
}

/** Why `other` would not come strictly after `target` (marked with the drained cost) in the deletion order, or undefined when it would. */
function outranks(other: V1Pod, target: V1Pod): string | undefined {
  const keys = (pod: V1Pod, cost: number) => [
    pod.spec?.nodeName ? 1 : 0,
    PHASE_ORDINAL[pod.status?.phase ?? ""] ?? 0,
    isPodReady(pod) ? 1 : 0,
    cost,
  ];
  const a = keys(other, deletionCostOf(other));
  const b = keys(target, Number(DRAINED_POD_DELETION_COST));
  const decisive = a.findIndex((value, i) => value !== b[i]);
  if (decisive >= 0 && (a[decisive] as number) > (b[decisive] as number)) return undefined;
  const reasons = [
    "it is not scheduled on a node yet",
    `it is ${other.status?.phase ?? "Pending"}`,
    "it is not ready",
    `its pod-deletion-cost is ${deletionCostOf(other)}`,
  ];
  return reasons[decisive >= 0 ? decisive : 3];
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function deletionCostOf(pod: V1Pod): number {
  const text = pod.metadata?.annotations?.[POD_DELETION_COST];
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : 0;
}

/** What the ReplicaSet controller counts towards its replicas (controller.IsPodActive). */
function isActive(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata?.deletionTimestamp && phase !== "Succeeded" && phase !== "Failed";
}

function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** A DNS subdomain (RFC 1123), which every pod name is. */
function isPodName(text: string): boolean {
  return text.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text);
}

function nameOf(pod: V1Pod): string {
  return pod.metadata?.name ?? "";
}

function byCreation(a: V1Pod, b: V1Pod): number {
  const diff =
    (a.metadata?.creationTimestamp?.getTime() ?? 0) -
    (b.metadata?.creationTimestamp?.getTime() ?? 0);
  return diff !== 0 ? diff : nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Talking to the API server

function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

function statusCodeOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The Status message of an API error (its own message carries every response header). */
function statusMessageOf(error: unknown): string {
  if (!(error instanceof ApiException))
    return error instanceof Error ? error.message : String(error);
  let body: unknown = error.body;
  try {
    body = typeof body === "string" ? JSON.parse(body) : body;
  } catch {
    // not JSON: keep the text
  }
  const message =
    typeof body === "object" &&
    body !== null &&
    "message" in body &&
    typeof body.message === "string"
      ? body.message
      : String(body ?? "");
  return `HTTP ${error.code}: ${message}`;
}

function describeFailure(failure: {
  action: string;
  error: unknown;
  namespace: string;
  deployment: string;
  server: string;
}): Error {
  const { action, error, namespace, deployment, server } = failure;
  const code = statusCodeOf(error);
  const hint =
    code === 401
      ? "the API server refused the credentials of the kubeconfig"
      : code === 403
        ? `the coordinator's account needs get and patch on deployments/scale (apps) and list, patch and delete on pods in namespace "${namespace}" (RBAC)`
        : code === 404 && action.includes(`scale of deployment ${deployment}`)
          ? `there is no Deployment "${deployment}" in namespace "${namespace}": check autoscaler.kubernetes_deployment and kubernetes_namespace`
          : code === undefined
            ? `check that the API server at ${server} is reachable and that the kubeconfig (KUBECONFIG, ~/.kube/config or the pod's service account) points at it`
            : "";
  return new Error(
    `kubernetes provider, deployment ${namespace}/${deployment}: ${action} failed: ${statusMessageOf(error)}${hint ? `; ${hint}` : ""}`,
    { cause: error },
  );
}

/** Resolves after ms, or at once when the signal aborts (never rejects). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined);
}
