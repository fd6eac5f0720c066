// k8s://namespace/service:port : the ready endpoints of a Kubernetes Service,
// read from its EndpointSlices (discovery.k8s.io/v1). Like client-go's
// reflector it lists once, then watches from the list's resourceVersion,
// renews the watch when the API server ends it, and lists again only when
// the watch says 410 Gone or after a failure.
import { ApiException, DiscoveryV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { backoffCeilingMs, type BackoffPolicy } from "../backoff/index.js";
import type { K8sTarget } from "./endpoint-uri.js";
import type {
  EndpointSink,
  EndpointSource,
  WatchFunction,
  WatchOptions,
} from "./endpoint-watch.js";
import { endpointsFromSlices, type EndpointSliceView } from "./k8s-endpoints.js";
import { abortWith } from "./k8s-abort.js";
import { setTimeout as delay } from "node:timers/promises";

export interface K8sWatchOptions {
  /** The cluster to ask; by default loadFromDefault(): KUBECONFIG, ~/.kube/config, or the pod's service account. */
  readonly kubeConfig?: KubeConfig;
  /** Wait after the first failure; doubles per failure up to maxRetryMs. */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  /** timeoutSeconds asked of each watch, jittered up to twice this as client-go does, so watchers do not renew in step. */
  readonly watchTimeoutSec?: number;
}

export function createK8sWatch(options: K8sWatchOptions = {}): WatchFunction<K8sTarget> {
  return (target, sink, watchOptions) => startK8sWatch(target, sink, watchOptions, options);
}

export const watchK8s: WatchFunction<K8sTarget> = createK8sWatch();

// ---------------------------------------------------------------------------
// List and watch (the loop)

const LIST_TIMEOUT_MS = 30_000;
/** How long past its own timeoutSeconds a watch may stay open before it is taken for a dead connection. */
const WATCH_GRACE_SEC = 30;
/** client-go's "very short watch": closed this soon with nothing received counts as a failure, not a renewal. */
const SHORT_WATCH_MS = 1_000;

type WatchEnd =
  | {
      readonly kind: "ended";
      readonly resourceVersion: string;
      readonly eventCount: number;
      readonly elapsedMs: number;
    }
  | { readonly kind: "expired"; readonly eventCount: number }
  | { readonly kind: "stopped" };

function startK8sWatch(
  target: K8sTarget,
  sink: EndpointSink,
  watchOptions: WatchOptions,
  options: K8sWatchOptions,
): EndpointSource {
  const uri = `k8s://${target.namespace}/${target.service}:${target.port}`;
  const logger = watchOptions.logger?.child({ uri });
  const random = watchOptions.random ?? Math.random;
  // The exact waits README.md promises (1 s, 2 s, 4 s … up to 10 s), so the ceiling without jitter.
  const retry: BackoffPolicy = {
    initialMs: options.minRetryMs ?? 1_000,
    maxMs: options.maxRetryMs ?? 10_000,
  };
  const watchTimeoutSec = options.watchTimeoutSec ?? 300;
  const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/endpointslices`;
  const labelSelector = `kubernetes.io/service-name=${target.service}`;
  const stopping = new AbortController();

  const slices = new Map<string, EndpointSliceView>();
  /** What was being done when something failed, for the message. */
  let stage: "loading the kubeconfig" | "list" | "watch" = "list";
  /** Failures since the watch last worked; sets the wait before the next attempt. */
  let failures = 0;
  let publishedKey: string | undefined;
  let hasFailedSincePublish = false;
  let isPublishQueued = false;
  // Coalesces a burst of watch events (one chunk of lines) into one publish.
  const schedulePublish = () => {
    if (isPublishQueued) return;
    isPublishQueued = true;
    queueMicrotask(() => {
      isPublishQueued = false;
      if (stopping.signal.aborted) return;
      const endpoints = endpointsFromSlices(slices.values(), target.port);
      const key = endpoints.map((e) => `${e.address}|${e.id ?? ""}|${e.zone ?? ""}`).join(",");
      // An unchanged set is published again after a failure, so the resolver
      // learns that the registry answers again.
      if (key === publishedKey && !hasFailedSincePublish) return;
      publishedKey = key;
      hasFailedSincePublish = false;
      sink.publish(endpoints);
    });
  };

  const applyEvent = (type: string, object: unknown): string | undefined => {
    const slice = asSlice(object);
    const name = slice?.metadata?.name;
    if (slice === undefined || name === undefined) return undefined;
    if (type === "DELETED") slices.delete(name);
    else slices.set(name, slice);
    failures = 0;
    schedulePublish();
    return slice.metadata?.resourceVersion;
  };

  /**
   * One list, then watches until a new list is needed (410 Gone); throws on
   * failure. Says whether the watch expired before delivering anything.
   */
  const listThenWatch = async (
    kubeConfig: KubeConfig,
  ): Promise<"stopped" | "expired" | "expired-at-once"> => {
    stage = "list";
    const list = await listSlices(kubeConfig, target.namespace, labelSelector, stopping.signal);
    slices.clear();
    for (const slice of list.items)
      if (slice.metadata?.name) slices.set(slice.metadata.name, slice);
    schedulePublish();
    let resourceVersion = list.metadata?.resourceVersion ?? "";
    const watch = new Watch(kubeConfig);
    stage = "watch";
    for (let isFirstWatch = true; !stopping.signal.aborted; isFirstWatch = false) {
      const timeoutSec = Math.max(1, Math.round(watchTimeoutSec * (1 + random())));
      const end = await watchOnce({
        watch,
        path,
        labelSelector,
        resourceVersion,
        timeoutSec,
        signal: stopping.signal,
        applyEvent,
      });
      switch (end.kind) {
        case "stopped":
          return "stopped";
        case "expired":
          logger?.debug("watch expired (410 Gone); listing again");
          return isFirstWatch && end.eventCount === 0 ? "expired-at-once" : "expired";
        case "ended":
          if (end.eventCount === 0 && end.elapsedMs < SHORT_WATCH_MS)
            throw new Error("the API server closed the watch at once without sending anything");
          failures = 0;
          resourceVersion = end.resourceVersion;
          logger?.debug({ resourceVersion }, "watch ended; watching again");
          break;
        default: {
          const unreachable: never = end;
          throw new Error(`unknown watch end ${String(unreachable)}`);
        }
      }
    }
    return "stopped";
  };

  const loop = (async () => {
    let expiredAtOnce = 0;
    while (!stopping.signal.aborted) {
      let server = "(no cluster in the kubeconfig)";
      try {
        stage = "loading the kubeconfig";
        const kubeConfig = options.kubeConfig ?? defaultKubeConfig();
        server = kubeConfig.getCurrentCluster()?.server ?? server;
        const outcome = await listThenWatch(kubeConfig);
        // A compaction right after a list happens; twice in a row, the server
        // would have us list in a tight loop.
        expiredAtOnce = outcome === "expired-at-once" ? expiredAtOnce + 1 : 0;
        if (expiredAtOnce > 1)
          throw new Error("the API server expired the watch (410 Gone) right after each list");
      } catch (error) {
        if (stopping.signal.aborted) break;
        failures += 1;
        hasFailedSincePublish = true;
        sink.fail(describeFailure({ uri, target, server, stage, error }));
        await sleep(backoffCeilingMs(retry, failures), stopping.signal);
      }
    }
  })();

  return {
    // Changes are pushed by the watch, so there is nothing to ask again.
    refresh: () => {},
    close: async () => {
      stopping.abort();
      await loop;
    },
  };
}

function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

async function listSlices(
  kubeConfig: KubeConfig,
  namespace: string,
  labelSelector: string,
  stopping: AbortSignal,
) {
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new Error(`no answer to the list within ${LIST_TIMEOUT_MS / 1000} s`)),
    LIST_TIMEOUT_MS,
  );
  const signal = AbortSignal.any([stopping, timeout.signal]);
  try {
    const api = kubeConfig.makeApiClient(DiscoveryV1Api);
    const listing = api.listNamespacedEndpointSlice(
      { namespace, labelSelector },
      { middleware: [abortWith(signal)], middlewareMergeStrategy: "append" },
    );
    return await untilAborted(listing, signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts (credentials plugins and such are not cancellable). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error("stopped"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

interface WatchRequest {
  readonly watch: Watch;
  readonly path: string;
  readonly labelSelector: string;
  readonly resourceVersion: string;
  readonly timeoutSec: number;
  readonly signal: AbortSignal;
  /** Applies an ADDED, MODIFIED or DELETED event; returns the object's resourceVersion. */
  readonly applyEvent: (type: string, object: unknown) => string | undefined;
}

/** One watch request, from its start to its end; rejects when it failed. */
function watchOnce(request: WatchRequest): Promise<WatchEnd> {
  return new Promise<WatchEnd>((resolve, reject) => {
    const startedAtMs = Date.now();
    let resourceVersion = request.resourceVersion;
    let eventCount = 0;
    let connection: AbortController | undefined;
    let isSettled = false;
    const settle = (finish: () => void) => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(watchdog);
      request.signal.removeEventListener("abort", onStop);
      connection?.abort();
      finish();
    };
    const onStop = () => settle(() => resolve({ kind: "stopped" }));
    // The watch client has no timeout of its own; a connection that died
    // without a reset would otherwise leave us following nothing.
    const watchdog = setTimeout(
      () =>
        settle(() =>
          reject(
            new Error(
              `the watch stayed open ${WATCH_GRACE_SEC} s past its timeoutSeconds=${request.timeoutSec}`,
            ),
          ),
        ),
      (request.timeoutSec + WATCH_GRACE_SEC) * 1000,
    );
    if (request.signal.aborted) return onStop();
    request.signal.addEventListener("abort", onStop, { once: true });

    const onEvent = (type: string, object: unknown) => {
      if (isSettled) return;
      eventCount += 1;
      switch (type) {
        case "ADDED":
        case "MODIFIED":
        case "DELETED":
          resourceVersion = request.applyEvent(type, object) ?? resourceVersion;
          return;
        case "BOOKMARK":
          resourceVersion = resourceVersionOf(object) ?? resourceVersion;
          return;
        case "ERROR": {
          const status = asStatus(object);
          if (status.code === 410)
            return settle(() => resolve({ kind: "expired", eventCount: eventCount - 1 }));
          return settle(() =>
            reject(new Error(`the watch failed: ${status.code ?? "?"} ${status.message}`)),
          );
        }
        default:
          return; // an event type from a newer API server; nothing to follow
      }
    };
    const onDone = (error: unknown) =>
      settle(() => {
        if (statusCodeOf(error) === 410) resolve({ kind: "expired", eventCount });
        else if (error) reject(error);
        else
          resolve({
            kind: "ended",
            resourceVersion,
            eventCount,
            elapsedMs: Date.now() - startedAtMs,
          });
      });

    const query = {
      labelSelector: request.labelSelector,
      resourceVersion: request.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: request.timeoutSec,
    };
    request.watch.watch(request.path, query, onEvent, onDone).then(
      (controller) => {
        // Returned only once the response headers arrived, perhaps after we gave up.
        if (isSettled) controller.abort();
        else connection = controller;
      },
      (error: unknown) => onDone(error ?? new Error("the watch could not start")),
    );
  });
}

/** Resolves after ms, or at once when the signal aborts (never rejects). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined);
}

// ---------------------------------------------------------------------------
// Reading what the API sent

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A watch event's object as a slice, when it has the fields read here. */
function asSlice(object: unknown): EndpointSliceView | undefined {
  if (
    !isRecord(object) ||
    typeof object.addressType !== "string" ||
    !Array.isArray(object.endpoints)
  )
    return undefined;
  if (!isRecord(object.metadata) || typeof object.metadata.name !== "string") return undefined;
  return object as unknown as EndpointSliceView;
}

function resourceVersionOf(object: unknown): string | undefined {
  if (!isRecord(object) || !isRecord(object.metadata)) return undefined;
  return typeof object.metadata.resourceVersion === "string"
    ? object.metadata.resourceVersion
    : undefined;
}

/** A metav1.Status, as sent in ERROR events and error responses. */
function asStatus(object: unknown): { code: number | undefined; message: string } {
  if (!isRecord(object)) return { code: undefined, message: String(object) };
  return {
    code: typeof object.code === "number" ? object.code : undefined,
    message: typeof object.message === "string" ? object.message : JSON.stringify(object),
  };
}

function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  if (isRecord(error) && typeof error.statusCode === "number") return error.statusCode;
  return undefined;
}

function describeFailure(failure: {
  uri: string;
  target: K8sTarget;
  server: string;
  stage: string;
  error: unknown;
}): string {
  const { uri, target, server, stage, error } = failure;
  const code = statusCodeOf(error);
  let reason = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiException) {
    // Its own message carries every response header; the Status message is what a person needs.
    let body: unknown = error.body;
    try {
      body = typeof body === "string" ? JSON.parse(body) : body;
    } catch {
      // not JSON: keep the text
    }
    reason = `HTTP ${error.code}: ${asStatus(body).message}`;
  } else if (code !== undefined) {
    reason = `HTTP ${code}: ${reason}`;
  }
  const hint =
    code === 401 || code === 403
      ? `check that the account may get, list and watch endpointslices.discovery.k8s.io in namespace "${target.namespace}" (RBAC)`
      : "check that the API server is reachable and that the kubeconfig (KUBECONFIG, ~/.kube/config or the pod's service account) points at it";
  return `${uri}: cannot follow the EndpointSlices of Service ${target.namespace}/${target.service} through the Kubernetes API at ${server}: ${stage} failed: ${reason}; ${hint}`;
}
