// What the coordinator's parts share: what it knows (registry, ledger,
// pending queue), where transitions go (the store, the commit outbox, the
// cluster watch), and the two calls that carry decisions out. The shell
// (coordinator.ts) builds one and hands it to each part.
import type { Logger } from "pino";
import type { PendingQueue, TaskLedger, TaskRecord } from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import type { ClusterWatch } from "./cluster-watch.js";
import type { CommitOutbox } from "./commit-outbox.js";
import type { CoordinatorSettings } from "./coordinator-settings.js";
import type { Effect, LifecycleContext } from "./task-lifecycle.js";
import type { WorkerRegistry } from "./worker-registry.js";

export interface CoordinatorParts {
  readonly settings: CoordinatorSettings;
  readonly logger: Logger;
  readonly store: TaskStore;
  readonly ledger: TaskLedger;
  readonly workers: WorkerRegistry;
  readonly pending: PendingQueue;
  readonly outbox: CommitOutbox;
  readonly watch: ClusterWatch;
  readonly now: () => number;
  /** The monotonic clock: how long since, immune to wall-clock steps. */
  readonly monotonicNow: () => number;
  /** The transitions' inputs at this moment (ledger, time, randomness, backoff). */
  lifecycle(): LifecycleContext;
  /** Carries out the effects a transition returned (effects.ts). */
  apply(effects: readonly Effect[]): void;
  /** Places waiting tasks on the next turn. */
  requestSchedule(): void;
}

/** Writes the task's row; durable at the next group commit. */
export function saveTask(store: TaskStore, task: TaskRecord): void {
  store.save({
    task: task.task,
    maxAttempts: task.maxAttempts,
    traceContext: task.traceContext,
    sequence: task.sequence,
  });
}
