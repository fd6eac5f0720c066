// What every fault test does first: a fault cluster with its teardown, and
// the standard load running on it until a third of the tasks are accepted,
// so the fault lands mid-load.
import { afterEach } from "vitest";
import {
  acceptedCounter,
  duringLoad,
  faultTaskCount,
  sleepPayload,
  startFaultCluster,
  type FaultCluster,
  type FaultClusterOptions,
} from "./fault-cluster.js";
import { runLoad, type LoadReport } from "./load.js";
import { stopAll } from "./service-process.js";

export interface FaultRun {
  readonly cluster: FaultCluster;
  readonly count: number;
  /** Resolves with the load's report once every task was accepted (or given up on). */
  readonly loading: Promise<LoadReport>;
}

/** Registers the teardown (stop the load, SIGKILL every process) and starts runs. */
export function useFaultRuns(): {
  startUnderLoad(options: FaultClusterOptions & { readonly idPrefix: string }): Promise<FaultRun>;
} {
  let cluster: FaultCluster | undefined;
  let stopLoad: AbortController | undefined;
  afterEach(async () => {
    stopLoad?.abort();
    await cluster?.stop();
    cluster = undefined;
    await stopAll();
  });
  return {
    async startUnderLoad(options) {
      cluster = await startFaultCluster(options);
      const count = faultTaskCount();
      stopLoad = new AbortController();
      const counter = acceptedCounter(Math.floor(count / 3));
      const loading = runLoad({
        clients: cluster.balancerClients,
        count,
        concurrency: 48,
        idPrefix: options.idPrefix,
        payload: sleepPayload,
        onAccepted: counter.onAccepted,
        signal: stopLoad.signal,
      });
      await duringLoad(counter.reached, loading, 60_000);
      return { cluster, count, loading };
    },
  };
}
