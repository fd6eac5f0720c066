// The balancer's replica of the cluster: a WatchCluster snapshot, then deltas.
// Decisions are made locally from it; the coordinator's Place is the commit.
// When the stream breaks the view is marked stale and re-synced with backoff.
import type { Logger } from "pino";
import { backoffDelayMs, type BackoffPolicy } from "../../libs/backoff/index.js";
import {
  createHealthTracker,
  type HealthTracker,
  type WorkerCandidate,
  type WorkerHealth,
} from "../../libs/balancing/index.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  Coordinator,
  type WatchClusterResponse,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { waitBeforeReconnect, type RpcClient } from "../../libs/rpc/index.js";
import { createLoadForecasts } from "./load-forecasts.js";
import { candidateOf } from "../../libs/balancing/index.js";

export interface ClusterView {
  readonly isSynced: boolean;
  /** Health of each worker as this balancer sees it (from the outcomes in the view's deltas). */
  health(nowMs: number): ReadonlyMap<string, WorkerHealth>;
  readonly revision: bigint;
  candidates(): WorkerCandidate[];
  worker(workerId: string): WorkerStatus | undefined;
  /** A placement we just committed, counted until the next delta brings the real figure. */
  notePlaced(workerId: string): void;
  /** Place said the worker cannot take work right now: treat it as full until its next delta. */
  noteConflict(workerId: string): void;
  stop(): void;
}

/** The wait before re-opening a broken cluster watch: its ceiling doubles from 0.2 s to 2 s per failure in a row. */
const RESYNC_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 2_000 };

export function startClusterView(options: {
  /** The coordinator's channel (it follows the discovery URI); the view does not close it. */
  client: RpcClient<typeof Coordinator>;
  logger: Logger;
  onSynced?: () => void;
  /** How far ahead each worker's load is forecast for the predictive strategy. */
  forecastHorizonMs?: number;
  /** Whether anyone ranks with the predictive strategy now; forecasting costs CPU only then. Default: always. */
  isForecastWanted?: () => boolean;
  /** [0, 1) like Math.random; the re-sync jitter. */
  random?: () => number;
}): ClusterView {
  const workers = new Map<string, WorkerStatus>();
  // Health as of at most 20 ms ago: one snapshot serves a burst of placements.
  const tracker = createHealthTracker({ snapshotMaxAgeMs: 20 });
  const candidates = new Map<string, WorkerCandidate>();
  // The candidates' ids in id order, rebuilt only when one joins or leaves: the
  // strategies order by id first, which is then a single pass.
  let idOrder: string[] | undefined;
  let synced = false;
  let revision = 0n;
  let stopped = false;
  const client = options.client;
  const abort = new AbortController();
  // Each worker's in-flight count over time, forecast once a second for the predictive strategy.
  const forecasts = createLoadForecasts({ horizonMs: options.forecastHorizonMs ?? 5_000 });
  const isForecastWanted = options.isForecastWanted ?? (() => true);
  let isForecasting = false;
  const forecastTimer = setInterval(() => {
    if (isForecastWanted()) {
      isForecasting = true;
      forecasts.refresh(Date.now(), (id, value) => tracker.recordForecast(id, value));
    } else if (isForecasting) {
      isForecasting = false;
      forecasts.withdraw((id) => tracker.recordForecast(id, undefined));
    }
  }, 1_000);
  forecastTimer.unref();

  const put = (status: WorkerStatus): void => {
    const id = status.spec?.workerId ?? "";
    feedHealth(tracker, workers.get(id), status, Date.now());
    forecasts.observe(id, Date.now(), status.inFlight);
    workers.set(id, status);
    if (!candidates.has(id)) idOrder = undefined;
    candidates.set(id, candidateOf(status));
  };
  const apply = (event: WatchClusterResponse): void => {
    revision = event.revision;
    switch (event.event.case) {
      case "snapshot":
        workers.clear();
        candidates.clear();
        idOrder = undefined;
        for (const status of event.event.value.workers) put(status);
        if (!synced) {
          synced = true;
          options.logger.info(
            { workers: workers.size, coordinator: client.address },
            "cluster view synced",
          );
          options.onSynced?.();
        }
        break;
      case "workerChanged":
        if (event.event.value.worker) put(event.event.value.worker);
        break;
      case "workerRemoved":
        workers.delete(event.event.value.workerId);
        candidates.delete(event.event.value.workerId);
        idOrder = undefined;
        tracker.forget(event.event.value.workerId);
        forecasts.forget(event.event.value.workerId);
        break;
      case undefined:
        break;
    }
  };

  const run = async (): Promise<void> => {
    const random = options.random ?? Math.random;
    let failures = 0;
    while (!stopped) {
      try {
        for await (const event of client.watchCluster({}, { signal: abort.signal })) {
          apply(event);
          failures = 0;
        }
      } catch (error) {
        if (stopped) return;
        if (synced)
          options.logger.warn(
            {
              coordinator: client.address,
              err: error instanceof Error ? error.message : String(error),
            },
            "lost the cluster watch; re-syncing",
          );
      }
      synced = false;
      failures += 1;
      // Full jitter, so the balancer replicas that lost one coordinator do not re-sync in step.
      await waitBeforeReconnect(
        client,
        backoffDelayMs(RESYNC_BACKOFF, failures, random),
        abort.signal,
      );
    }
  };
  run().catch((error: unknown) => options.logger.error({ err: error }, "cluster view loop failed"));

  return {
    get isSynced() {
      return synced;
    },
    get revision() {
      return revision;
    },
    candidates: () => {
      idOrder ??= [...candidates.keys()].sort();
      const inOrder: WorkerCandidate[] = [];
      for (const id of idOrder) {
        const candidate = candidates.get(id);
        if (candidate) inOrder.push(candidate);
      }
      return inOrder;
    },
    health: (nowMs) => tracker.snapshot(nowMs),
    worker: (id) => workers.get(id),
    notePlaced(workerId) {
      const c = candidates.get(workerId);
      if (c) candidates.set(workerId, { ...c, inFlight: c.inFlight + 1 });
    },
    noteConflict(workerId) {
      const c = candidates.get(workerId);
      if (c) candidates.set(workerId, { ...c, inFlight: Math.max(c.inFlight, c.slots) });
    },
    stop() {
      stopped = true;
      clearInterval(forecastTimer);
      abort.abort();
      client?.close();
    },
  };
}

/**
 * Turns the change between two views of a worker into health inputs: each
 * newly finished task is an outcome (its latency the worker's current EWMA,
 * the finest grain the view carries), and a new worker starts its slow start.
 */
function feedHealth(
  tracker: HealthTracker,
  before: WorkerStatus | undefined,
  after: WorkerStatus,
  nowMs: number,
): void {
  const id = after.spec?.workerId ?? "";
  const latencyMs = after.taskLatencyEwmaMs;
  const succeeded = Number(after.tasksSucceeded - (before?.tasksSucceeded ?? after.tasksSucceeded));
  const failed = Number(after.tasksFailed - (before?.tasksFailed ?? after.tasksFailed));
  // Bounded: a delta after a long gap counts as at most 32 outcomes of each kind.
  for (let i = 0; i < Math.min(32, Math.max(0, succeeded)); i += 1)
    tracker.recordOutcome(id, { ok: true, latencyMs, nowMs });
  for (let i = 0; i < Math.min(32, Math.max(0, failed)); i += 1)
    tracker.recordOutcome(id, { ok: false, latencyMs, nowMs });
  // Liveness is the coordinator's to judge (an idle worker's heartbeats renew
  // its lease there and reach no balancer); here a worker only starts its ramp.
  tracker.recordJoined(id, nowMs, after.registeredAt ? timestampMs(after.registeredAt) : undefined);
}
