// What a TypeScript program embeds to be a scalemesh worker.
export {
  createWorker,
  outputLimitBytes,
  type DrainOptions,
  type RegisteredEvent,
  type Worker,
  type WorkerOptions,
} from "./worker.js";
export type { TaskHandler, TaskOutcome, TaskOutcomeKind, TaskOutput, WorkerTask } from "./task.js";
export { TASK_OUTCOME_KINDS, TaskCancelledError } from "./task.js";
export type { TaskReport } from "./task-runner.js";
export { NO_FREE_SLOT, WORKER_DRAINING } from "./task-runner.js";
export { executeTask, formatSeconds, type ExecuteTaskOptions } from "./execute-task.js";
export type { BackoffPolicy } from "../backoff/index.js";
export { generateWorkerId, type WorkerIdParts } from "./worker-id.js";
export { resolveCoordinatorTarget, type CoordinatorTarget } from "./coordinator-endpoints.js";
export {
  withLease,
  type HeldLease,
  type WithLeaseOptions,
  type WithLeaseResult,
} from "./with-lease.js";
