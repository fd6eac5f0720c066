// The coordinator's shell: it builds what the coordinator knows (the worker
// registry, the task ledger, the pending queue), hands it to the parts that
// decide and act, and carries out their effects. Where things happen:
//   membership.ts        workers join, heartbeat, lose their stream, die (liveness.ts judges;
//                        pause-detector.ts and pause-hold.ts when the coordinator itself was away)
//   worker-reports.ts    an attempt started or finished
//   task-intake.ts       the Place commit (admission.ts decides whether a task can run at all)
//   scheduler.ts         waiting tasks placed as slots free up, retries after their backoff
//   operator-commands.ts cancel, retry, purge, drain, cordon
//   recovery.ts          the ledger rebuilt after a restart
//   task-lifecycle.ts    every task transition, returning the effects that effects.ts carries out
// Nobody hears of a transition before its commit (commit-outbox.ts). The RPC
// files are thin shells over this class.
import type { Logger } from "pino";
import { createPlacementStack } from "../../libs/balancing/index.js";
import {
  WorkerState,
  type Heartbeat,
  type PlaceResponse,
  type Register,
  type Registered,
  type Task,
  type TaskResult,
  type TaskSpec,
  type TaskUpdate,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import {
  createMemoryLedger,
  createPendingQueue,
  type PendingQueue,
  type TaskLedger,
  type TaskRecord,
} from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import type { FleetHooks } from "./admission.js";
import { createClusterWatch, type ClusterWatch } from "./cluster-watch.js";
import { createCommitOutbox, type CommitOutbox } from "./commit-outbox.js";
import { observeCoordinator } from "./coordinator-metrics.js";
import type { CoordinatorParts } from "./coordinator-parts.js";
import type { Clock, CoordinatorSettings } from "./coordinator-settings.js";
import { createEffectRunner } from "./effects.js";
import { createFinalWaiters } from "./final-waiters.js";
import { livenessTickMs } from "./liveness.js";
import { createMembership, type Membership } from "./membership.js";
import { createOperatorCommands, type OperatorCommands } from "./operator-commands.js";
import { recoverFromStore, type RecoverySummary } from "./recovery.js";
import { createScheduler, type Scheduler } from "./scheduler.js";
import { createTaskIntake, type TaskIntake } from "./task-intake.js";
import { taskMetrics } from "./task-metrics.js";
import { createWorkerReports, type WorkerReports } from "./worker-reports.js";
import {
  createWorkerRegistry,
  type WorkerCounts,
  type WorkerRegistry,
  type WorkerSessionHandle,
} from "./worker-registry.js";

export type { FleetHooks } from "./admission.js";
export type { Clock, CoordinatorSettings } from "./coordinator-settings.js";
export type { RecoverySummary } from "./recovery.js";

export class Coordinator {
  readonly ledger: TaskLedger = createMemoryLedger();
  readonly watch: ClusterWatch;
  readonly outbox: CommitOutbox;
  readonly startedAtMs: number;
  readonly workers: WorkerRegistry;
  private readonly pending: PendingQueue;
  private readonly scheduler: Scheduler;
  private readonly membership: Membership;
  private readonly reports: WorkerReports;
  private readonly intake: TaskIntake;
  private readonly operators: OperatorCommands;
  private readonly finalWaiters = createFinalWaiters();
  private livenessTimer: NodeJS.Timeout | undefined;
  private fleet: FleetHooks | undefined;
  /** Since start, never reset: each reader takes rates as differences (takeRates for the load reporter, the autoscaler its own). */
  private accepted = 0;
  private finished = 0;
  private ratesTakenAt = { accepted: 0, finished: 0 };

  constructor(
    readonly settings: CoordinatorSettings,
    private readonly logger: Logger,
    private readonly store: TaskStore,
    private readonly clock: Clock = {
      now: () => Date.now(),
      monotonicNow: () => performance.now(),
    },
    random: () => number = Math.random,
  ) {
    const now = (): number => clock.now();
    const monotonicNow = (): number => (clock.monotonicNow ?? clock.now).call(clock);
    this.startedAtMs = now();
    this.workers = createWorkerRegistry((workerId) => this.ledger.unfinishedCount(workerId));
    this.pending = createPendingQueue(settings.maxPendingTasks);
    this.outbox = createCommitOutbox(store, logger, {
      onWritableAgain: () => this.requestSchedule(),
    });
    this.watch = createClusterWatch({
      flushIntervalMs: 20,
      snapshot: () => ({ workers: this.workers.list(false), pendingTasks: this.pending.size }),
      statusOf: (id) => {
        const record = this.workers.get(id);
        return record && record.state !== WorkerState.DEAD
          ? this.workers.statusOf(record)
          : undefined;
      },
    });
    const parts: CoordinatorParts = {
      settings,
      logger,
      store,
      ledger: this.ledger,
      workers: this.workers,
      pending: this.pending,
      outbox: this.outbox,
      watch: this.watch,
      now,
      monotonicNow,
      lifecycle: () => ({
        ledger: this.ledger,
        nowMs: now(),
        random,
        retryBackoff: settings.retryBackoff,
      }),
      apply: createEffectRunner({
        store,
        pending: this.pending,
        outbox: this.outbox,
        watch: this.watch,
        workers: this.workers,
        scheduler: () => this.scheduler,
        logger,
        now,
      }),
      requestSchedule: () => this.requestSchedule(),
    };
    const stack = createPlacementStack({
      defaultStrategy: settings.strategy,
      random,
      now,
      strategies: settings.strategyOptions,
    });
    this.intake = createTaskIntake(parts, {
      stack,
      fleet: () => this.fleet,
      onAccepted: () => (this.accepted += 1),
    });
    this.scheduler = createScheduler({
      pending: this.pending,
      stack,
      candidates: () => this.workers.candidates(),
      now,
      canPlace: () => this.outbox.isHealthy,
      dispatch: (task, ranking, workerId) => this.intake.dispatch(task, ranking, workerId),
    });
    this.membership = createMembership(parts);
    this.reports = createWorkerReports(parts);
    this.operators = createOperatorCommands(parts);
    // A waiting AwaitTask hears of a final state only once it is durable.
    this.ledger.onFinal((record) => {
      this.finished += 1;
      taskMetrics.finished(record);
      this.outbox.afterCommit(() => this.finalWaiters.wake(record));
    });
    observeCoordinator(this, now);
  }

  start(): void {
    // The recovery grace of workers known from the ledger counts from now,
    // when the server takes calls, not from when the ledger was read.
    const now = this.clock.now();
    for (const record of this.workers.all()) {
      if (record.epoch === 0n && record.state === WorkerState.SUSPECT) record.streamLostAtMs = now;
    }
    this.livenessTimer = setInterval(
      () => this.tickLiveness(),
      livenessTickMs(this.settings.heartbeatIntervalMs),
    );
  }

  /** Stops the loops, closes sessions and writes what is still queued. */
  async stop(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.scheduler.stop();
    this.watch.stop();
    for (const record of this.workers.all()) record.session?.outbound.close();
    await this.outbox
      .drain()
      .catch((error: unknown) =>
        this.logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          "could not write the last transitions",
        ),
      );
  }

  /**
   * Rebuilds the ledger from the store after a restart. Tasks that were on a
   * worker stay with it if it comes back within the recovery grace and says
   * it still runs them; the rest go back to PENDING then.
   */
  async recover(): Promise<RecoverySummary> {
    const summary = await recoverFromStore({
      store: this.store,
      ledger: this.ledger,
      pending: this.pending,
      workers: this.workers,
      nowMs: this.clock.now(),
      recoveryGraceMs: this.settings.recoveryGraceMs,
    });
    this.logger.info(summary, "task ledger recovered");
    this.requestSchedule();
    return summary;
  }

  /** The autoscaler attaches while it can start workers; returns the detach. */
  attachFleet(hooks: FleetHooks): () => void {
    this.fleet = hooks;
    return () => {
      if (this.fleet === hooks) this.fleet = undefined;
    };
  }

  // ---- worker sessions (membership.ts, worker-reports.ts) ----------------

  register(message: Register): { session: WorkerSessionHandle; registered: Registered } {
    return this.membership.register(message);
  }

  heartbeat(session: WorkerSessionHandle, message: Heartbeat): void {
    this.membership.heartbeat(session, message);
  }

  sessionEnded(session: WorkerSessionHandle): void {
    this.membership.sessionEnded(session);
  }

  checkLiveness(): void {
    this.membership.checkLiveness();
  }

  /** What the liveness timer runs: first whether the coordinator itself was away (its clocks since the last tick), then checkLiveness. */
  tickLiveness(): void {
    this.membership.tickLiveness();
  }

  taskUpdated(session: WorkerSessionHandle, update: TaskUpdate): void {
    this.reports.taskUpdated(session, update);
  }

  taskFinished(session: WorkerSessionHandle, result: TaskResult): void {
    this.reports.taskFinished(session, result);
  }

  // ---- placement (task-intake.ts, scheduler.ts) --------------------------

  place(
    spec: TaskSpec,
    workerId: string,
    traceContext: Record<string, string>,
  ): Promise<PlaceResponse> {
    return this.intake.place(spec, workerId, traceContext);
  }

  requestSchedule(): void {
    this.scheduler.requestSchedule();
  }

  schedulePending(): void {
    this.scheduler.schedulePending();
  }

  // ---- operators (operator-commands.ts) ----------------------------------

  cancelTask(taskId: string, reason: string): Promise<Task> {
    return this.operators.cancelTask(taskId, reason);
  }

  retryTask(taskId: string): Promise<Task> {
    return this.operators.retryTask(taskId);
  }

  purgeFinishedBefore(cutoffMs: number): Promise<number> {
    return this.operators.purgeFinishedBefore(cutoffMs);
  }

  drainWorker(workerId: string): WorkerStatus {
    return this.operators.drainWorker(workerId);
  }

  setCordoned(workerId: string, isCordoned: boolean): WorkerStatus {
    return this.operators.setCordoned(workerId, isCordoned);
  }

  // ---- reads --------------------------------------------------------------

  /** Calls `wake` once when the task becomes final (and durable); returns a function that stops waiting. */
  whenFinal(taskId: string, wake: (record: TaskRecord) => void): () => void {
    return this.finalWaiters.add(taskId, wake);
  }

  listWorkers(includeDead: boolean): WorkerStatus[] {
    return this.workers.list(includeDead);
  }

  getWorker(workerId: string): WorkerStatus | undefined {
    const record = this.workers.get(workerId);
    return record ? this.workers.statusOf(record) : undefined;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Tasks accepted since start (rates are differences of it). */
  get acceptedTotal(): number {
    return this.accepted;
  }

  get finishedTotal(): number {
    return this.finished;
  }

  workerCounts(): WorkerCounts {
    return this.workers.counts();
  }

  /** Tasks accepted and finished since the last call (for load samples). */
  takeRates(): { accepted: number; finished: number } {
    const rates = {
      accepted: this.accepted - this.ratesTakenAt.accepted,
      finished: this.finished - this.ratesTakenAt.finished,
    };
    this.ratesTakenAt = { accepted: this.accepted, finished: this.finished };
    return rates;
  }
}
