// The HPA and KEDA driving fleet-sim.ts's fleet, so they can be compared
// with scalemesh's policies on the same traces and the same worker start
// time. What each one sees is modelled on the real metric pipelines:
//
// - HPA on CPU (a Resource metric, averageUtilization): metrics-server
//   scrapes every pod every 15 s (its --metric-resolution in the upstream
//   manifests, kubernetes/kubernetes#117121) and reports the usage over the
//   window since the previous scrape; the controller syncs every 15 s and
//   reads the newest scrape, so what it acts on is 5–30 s old. A worker's
//   utilization is busy slots / slots, so it saturates at 1 while tasks queue:
//   CPU cannot see a queue. Starting pods are pending, and a ready pod whose
//   sample began before it was ready is ignored (groupPods within the CPU
//   initialization period); on a scale-up ignored pods count as 0 %
//   (hpa-model.ts calculateReplicas).
// - KEDA on a queue (aws-sqs-queue and the other queue scalers): the metric
//   is the messages waiting plus in flight, read fresh each time the HPA asks
//   (KEDA's metrics server queries the scaler unless useCachedMetrics), with
//   KEDA's own poll every pollingInterval for activation and the cool-down.
//   queueLength must be an integer: 2 per worker, the nearest below the
//   4 slots × 0.55 the other policies aim for.
//
// Both use the HPA's default behaviour (hpa-model.ts DEFAULT_HPA_BEHAVIOR),
// and minReplicas/maxReplicas of scalemesh's min_workers and hard ceiling.
import {
  DEFAULT_HPA_BEHAVIOR,
  EMPTY_HPA_STATE,
  HPA_SYNC_SEC,
  reconcileHpa,
  type HpaState,
} from "./hpa-model.js";
import {
  EMPTY_KEDA_STATE,
  pollKeda,
  syncKedaHpa,
  type KedaSpec,
  type KedaState,
} from "./keda-model.js";
import type { FleetController, FleetModel } from "./fleet-sim.js";

/** metrics-server's scrape period and the window each sample covers. */
export const METRICS_RESOLUTION_SEC = 15;
export const KEDA_POLLING_INTERVAL_SEC = 30;
export const KEDA_COOLDOWN_PERIOD_SEC = 300;

export interface AnchorBounds {
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

export function createHpaController(options: {
  readonly model: FleetModel;
  readonly bounds: AnchorBounds;
  readonly targetUtilization: number;
  readonly tickSec: number;
}): FleetController {
  const { model, bounds, targetUtilization } = options;
  const k = model.slotsPerWorker;
  // Scrapes halfway between two syncs (to the tick), so a sync reads a sample 5–30 s old.
  const scrapeOffsetSec = Math.max(
    options.tickSec,
    Math.round(METRICS_RESOLUTION_SEC / 2 / options.tickSec) * options.tickSec,
  );
  let nextScrapeSec = scrapeOffsetSec;
  let nextSyncSec = 0;
  let window = { sum: 0, seconds: 0 };
  let sample: { atSec: number; utilization: number } | undefined;
  let state: HpaState = EMPTY_HPA_STATE;
  return {
    decide(view) {
      if (view.tSec < nextSyncSec) return undefined;
      nextSyncSec += HPA_SYNC_SEC;
      if (!sample) return undefined; // no metrics yet: the HPA leaves the scale alone
      const windowStartSec = sample.atSec - METRICS_RESOLUTION_SEC;
      const countedPods = view.readySinceSec.filter((at) => at <= windowStartSec).length;
      const specReplicas = view.readyWorkers + view.startingWorkers;
      const step = reconcileHpa({
        spec: { ...bounds, ...DEFAULT_HPA_BEHAVIOR },
        state,
        specReplicas,
        metric: {
          kind: "utilization",
          utilization: sample.utilization,
          targetUtilization,
          countedPods,
          ignoredPods: specReplicas - countedPods,
        },
        nowSec: view.tSec,
      });
      state = step.state;
      return { desiredWorkers: step.replicas };
    },
    observeServed(view, tickSec) {
      const slots = view.readyWorkers * k;
      if (slots > 0)
        window = {
          sum: window.sum + (view.busy / slots) * tickSec,
          seconds: window.seconds + tickSec,
        };
      if (view.tSec + tickSec < nextScrapeSec) return;
      // The scrape at the end of this tick: the mean over the window since the last one.
      if (window.seconds > 0)
        sample = { atSec: view.tSec + tickSec, utilization: window.sum / window.seconds };
      window = { sum: 0, seconds: 0 };
      nextScrapeSec += METRICS_RESOLUTION_SEC;
    },
  };
}

export function createKedaController(options: {
  readonly model: FleetModel;
  readonly bounds: AnchorBounds;
  readonly queueLengthTarget: number;
}): FleetController {
  const spec: KedaSpec = {
    pollingIntervalSec: KEDA_POLLING_INTERVAL_SEC,
    cooldownPeriodSec: KEDA_COOLDOWN_PERIOD_SEC,
    minReplicaCount: 0, // KEDA's default: activation from zero, the cool-down back to it
    maxReplicaCount: options.bounds.maxReplicas,
    queueLengthTarget: options.queueLengthTarget,
    activationQueueLength: 0,
    hpa: DEFAULT_HPA_BEHAVIOR,
  };
  let state: KedaState = EMPTY_KEDA_STATE;
  let nextPollSec = 0;
  let nextSyncSec = 0;
  return {
    decide(view) {
      const queueLength = view.queue + view.busy; // waiting + in flight (scaleOnInFlight)
      let replicas = view.readyWorkers + view.startingWorkers;
      const before = replicas;
      if (view.tSec >= nextPollSec) {
        nextPollSec += spec.pollingIntervalSec;
        const polled = pollKeda({ spec, state, replicas, queueLength, nowSec: view.tSec });
        state = polled.state;
        replicas = polled.replicas;
      }
      if (view.tSec >= nextSyncSec) {
        nextSyncSec += HPA_SYNC_SEC;
        const synced = syncKedaHpa({ spec, state, replicas, queueLength, nowSec: view.tSec });
        state = synced.state;
        replicas = synced.replicas;
      }
      return replicas === before ? undefined : { desiredWorkers: replicas };
    },
  };
}
