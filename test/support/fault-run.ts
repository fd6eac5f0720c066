// What every fault test does first: a fault cluster with its teardown, and
// the standard load running on it until a third of the tasks are accepted,
// so the fault lands mid-load.
import { afterEach, expect } from "vitest";
import type { Task } from "../../libs/contracts/index.js";
import {
  acceptedCounter,
  auditAcceptedTasks,
  duringLoad,
  faultTaskCount,
  listAllTasks,
  readExecutions,
  settledLedgerFile,
  sleepPayload,
  startFaultCluster,
  waitForAllFinal,
  type Execution,
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
  startUnderLoad(
    options: FaultClusterOptions & {
      readonly idPrefix: string;
      /** The sleep payload of task i (default sleepPayload: 20..100 ms). */
      readonly payload?: (i: number) => Uint8Array;
      /** Deadline of one Assign call (runLoad's default 5 s). */
      readonly callTimeoutMs?: number;
    },
  ): Promise<FaultRun>;
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
      const { loading } = await loadUntilAThird({
        clients: cluster.balancerClients,
        count,
        idPrefix: options.idPrefix,
        signal: stopLoad.signal,
        ...(options.payload ? { payload: options.payload } : {}),
        ...(options.callTimeoutMs ? { callTimeoutMs: options.callTimeoutMs } : {}),
      });
      return { cluster, count, loading };
    },
  };
}

/**
 * The standard fault load (48 in flight, the counting sleep handler's
 * payload) on `clients`, once a third of the tasks are accepted (so the
 * fault lands mid-load); `loading` resolves with the load's report.
 */
export async function loadUntilAThird(options: {
  readonly clients: Parameters<typeof runLoad>[0]["clients"];
  readonly count: number;
  readonly idPrefix: string;
  readonly signal: AbortSignal;
  readonly payload?: (i: number) => Uint8Array;
  readonly callTimeoutMs?: number;
  /** Told of each task accepted, besides the count. */
  readonly onAccepted?: (taskId: string) => void;
}): Promise<{ readonly loading: Promise<LoadReport> }> {
  const counter = acceptedCounter(Math.floor(options.count / 3));
  const loading = runLoad({
    clients: options.clients,
    count: options.count,
    concurrency: 48,
    idPrefix: options.idPrefix,
    payload: options.payload ?? sleepPayload,
    ...(options.callTimeoutMs ? { callTimeoutMs: options.callTimeoutMs } : {}),
    onAccepted: (taskId: string) => {
      options.onAccepted?.(taskId);
      counter.onAccepted();
    },
    signal: options.signal,
  });
  await duringLoad(counter.reached, loading, 60_000);
  return { loading };
}

export interface FaultOutcome {
  readonly load: LoadReport;
  /** As Admin lists them. */
  readonly tasks: Map<string, Task>;
  readonly executions: Execution[];
  /** The ledger file's tasks once settled, by id. */
  readonly ledgerFile: Awaited<ReturnType<typeof settledLedgerFile>>;
  /** What auditAcceptedTasks found wrong (empty when nothing is). */
  readonly problems: string[];
}

/**
 * After the fault: the load over with every task accepted, every task
 * final, then the tasks read back (Admin, the ledger file, the handlers'
 * own records) and audited.
 */
export async function auditedOutcome(
  run: FaultRun,
  options: { readonly faultyWorkers?: ReadonlySet<string>; readonly finalWithinMs?: number } = {},
): Promise<FaultOutcome> {
  const { cluster: c, count } = run;
  const load = await run.loading;
  expect([...load.refused].map(([id, e]) => `${id}: ${e.rawMessage}`)).toEqual([]);
  expect(load.accepted.size).toBe(count);
  await waitForAllFinal(c.admin, count, options.finalWithinMs ?? 60_000);
  const { tasks, listedTwice } = await listAllTasks(c.admin);
  const ledgerFile = await settledLedgerFile(c.ledgerPath, tasks);
  const executions = readExecutions(c.execDir);
  const problems = auditAcceptedTasks({
    accepted: load.accepted.keys(),
    tasks,
    ledgerFile,
    executions,
    listedTwice,
    ...(options.faultyWorkers ? { faultyWorkers: options.faultyWorkers } : {}),
  });
  return { load, tasks, executions, ledgerFile, problems };
}
