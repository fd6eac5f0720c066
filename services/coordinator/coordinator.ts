// The coordinator's shell: it wires what it knows (the worker registry, the
// task ledger, the pending queue) to what decides (admission, the placement
// stack, the task lifecycle's transitions, the liveness judgement, the
// scheduler) and carries out their effects: rows saved, workers told after
// the commit, the cluster watch updated. Nobody hears of a transition before
// its commit (commit-outbox.ts). The RPC files are thin shells over this.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { createPlacementStack, placementRequestOf, type Ranking, type StrategyName, type StrategyOptions } from "../../libs/balancing/index.js";
import {
  PlaceResponseSchema,
  TaskSpecSchema,
  TaskState,
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
import { createMemoryLedger, createPendingQueue, isFinal, type BackoffPolicy, type PendingQueue, type TaskLedger, type TaskRecord } from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import { alreadyExists, createAsyncQueue, failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from "../../libs/rpc/index.js";
import { admit, checkTarget, type FleetHooks } from "./admission.js";
import { createClusterWatch, type ClusterWatch } from "./cluster-watch.js";
import { createCommitOutbox, type CommitOutbox } from "./commit-outbox.js";
import { coordinatorCounters, observeCoordinator } from "./coordinator-metrics.js";
import { createFinalWaiters } from "./final-waiters.js";
import { judgeLiveness, tasksLostOn } from "./liveness.js";
import { recoverFromStore, type RecoverySummary } from "./recovery.js";
import { createScheduler, type Scheduler } from "./scheduler.js";
import * as lifecycle from "./task-lifecycle.js";
import { createWorkerRegistry, registeredWorker, type SessionMessage, type WorkerCounts, type WorkerRecord, type WorkerRegistry, type WorkerSessionHandle } from "./worker-registry.js";

export type { RecoverySummary } from "./recovery.js";
export type { FleetHooks } from "./admission.js";

export interface CoordinatorSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnectGraceMs: number;
  /** After a restart: how long workers have to come back and claim their tasks. */
  readonly recoveryGraceMs: number;
  readonly maxPendingTasks: number;
  readonly defaultMaxAttempts: number;
  readonly defaultTaskTimeoutMs: number;
  readonly deadWorkerRetentionMs: number;
  readonly isFailureDetectionEnabled: boolean;
  readonly strategy: StrategyName;
  readonly strategyOptions?: Partial<StrategyOptions>;
  readonly retryBackoff: BackoffPolicy;
}

export interface Clock {
  now(): number;
}

const WORKER_ID_PATTERN = /^[A-Za-z0-9._:\-]{1,128}$/;

export class Coordinator {
  readonly ledger: TaskLedger = createMemoryLedger();
  readonly watch: ClusterWatch;
  readonly outbox: CommitOutbox;
  readonly startedAtMs: number;
  readonly workers: WorkerRegistry;
  private readonly pending: PendingQueue;
  private readonly stack;
  private readonly scheduler: Scheduler;
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
    private readonly clock: Clock = { now: () => Date.now() },
    private readonly random: () => number = Math.random,
  ) {
    this.startedAtMs = clock.now();
    this.workers = createWorkerRegistry((workerId) => this.ledger.unfinishedCount(workerId));
    this.pending = createPendingQueue(settings.maxPendingTasks);
    this.stack = createPlacementStack({ defaultStrategy: settings.strategy, random, now: () => clock.now(), strategies: settings.strategyOptions });
    this.outbox = createCommitOutbox(store, logger, { onWritableAgain: () => this.requestSchedule() });
    this.scheduler = createScheduler({
      pending: this.pending,
      stack: this.stack,
      candidates: () => this.workers.candidates(),
      now: () => clock.now(),
      canPlace: () => this.outbox.isHealthy,
      dispatch: (task, ranking, workerId) => this.dispatch(task, ranking, workerId),
    });
    this.watch = createClusterWatch({
      flushIntervalMs: 20,
      snapshot: () => ({ workers: this.workers.list(false), pendingTasks: this.pending.size }),
      statusOf: (id) => {
        const record = this.workers.get(id);
        return record && record.state !== WorkerState.DEAD ? this.workers.statusOf(record) : undefined;
      },
    });
    // A waiting AwaitTask hears of a final state only once it is durable.
    this.ledger.onFinal((record) => {
      this.finished += 1;
      this.outbox.afterCommit(() => this.finalWaiters.wake(record));
    });
    observeCoordinator(this);
  }

  start(): void {
    // The recovery grace of workers known from the ledger counts from now,
    // when the server takes calls, not from when the ledger was read.
    const now = this.clock.now();
    for (const record of this.workers.all()) {
      if (record.epoch === 0n && record.state === WorkerState.SUSPECT) record.streamLostAtMs = now;
    }
    // A quarter interval: a silent worker is noticed at most that long after its timeout.
    this.livenessTimer = setInterval(() => this.checkLiveness(), Math.max(50, Math.floor(this.settings.heartbeatIntervalMs / 4)));
  }

  /** Stops the loops, closes sessions and writes what is still queued. */
  async stop(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.scheduler.stop();
    this.watch.stop();
    for (const record of this.workers.all()) record.session?.outbound.close();
    await this.outbox.drain().catch((error: unknown) => this.logger.error({ err: errorText(error) }, "could not write the last transitions"));
  }

  /**
   * Rebuilds the ledger from the store after a restart. Tasks that were on a
   * worker stay with it if it comes back within the recovery grace and says
   * it still runs them; the rest go back to PENDING then.
   */
  recover(): RecoverySummary {
    const summary = recoverFromStore({ store: this.store, ledger: this.ledger, pending: this.pending, workers: this.workers, nowMs: this.clock.now(), recoveryGraceMs: this.settings.recoveryGraceMs });
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

  // ---- carrying out -------------------------------------------------------

  private get lifecycleContext(): lifecycle.LifecycleContext {
    return { ledger: this.ledger, nowMs: this.clock.now(), random: this.random, retryBackoff: this.settings.retryBackoff };
  }

  private carryOut(effects: readonly lifecycle.Effect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "save":
          this.save(effect.task);
          break;
        case "queue":
          this.pending.add(effect.task);
          if (effect.notBeforeMs > this.clock.now()) this.scheduler.wakeAt(effect.notBeforeMs);
          break;
        case "unqueue":
          this.pending.remove(effect.task);
          break;
        case "tell": {
          const { workerId, message } = effect;
          this.outbox.afterCommit(() => this.workers.send(workerId, message));
          break;
        }
        case "changed":
          this.watch.changed(effect.workerId);
          break;
        case "retried":
          coordinatorCounters.retries.inc();
          break;
        case "dead_lettered":
          this.logger.warn({ taskId: effect.task.task.spec?.taskId, attempts: effect.task.task.attempt, error: effect.error }, "task dead-lettered: no attempt left");
          break;
        default: {
          const unknown: never = effect;
          throw new Error(`unknown effect ${JSON.stringify(unknown)}`);
        }
      }
    }
  }

  private save(task: TaskRecord): void {
    this.store.save({ task: task.task, maxAttempts: task.maxAttempts, traceContext: task.traceContext, sequence: task.sequence });
  }

  private failAttempt(task: TaskRecord, error: string, options: { backoff: boolean }): void {
    this.carryOut(lifecycle.failAttempt(this.lifecycleContext, task, error, options));
  }

  // ---- membership ---------------------------------------------------------

  /** Opens (or re-opens) a worker's session. Tasks it still runs stay with it. */
  register(message: Register): { session: WorkerSessionHandle; registered: Registered } {
    const spec = message.worker;
    if (!spec) throw invalidArgument("register.worker", "is required");
    if (spec.slots < 1 || spec.slots > 1024) throw invalidArgument("register.worker.slots", `${spec.slots} must be 1..1024`);
    if (spec.workerId === "") spec.workerId = `worker-${randomUUID().slice(0, 8)}`;
    if (!WORKER_ID_PATTERN.test(spec.workerId)) throw invalidArgument("register.worker.worker_id", "must be 1..128 characters of letters, digits and . _ : -");
    const previous = this.workers.get(spec.workerId);
    previous?.session?.outbound.close();
    const session: WorkerSessionHandle = { workerId: spec.workerId, epoch: (previous?.epoch ?? 0n) + 1n, outbound: createAsyncQueue() };
    this.workers.set(registeredWorker(spec, session, previous, this.clock.now(), this.settings.reconnectGraceMs));
    // A task the ledger has on this worker that the worker no longer runs was
    // lost with the old stream (an assignment sent into a dying connection, or
    // a worker that restarted): it goes back for another attempt.
    const stillRunning = new Set(message.runningTaskIds);
    let kept = 0;
    for (const task of this.ledger.unfinishedOn(spec.workerId)) {
      if (stillRunning.has(task.task.spec?.taskId ?? "")) kept += 1;
      else this.failAttempt(task, `worker ${spec.workerId} came back without it`, { backoff: false });
    }
    const isReconnect = previous !== undefined && previous.state !== WorkerState.DEAD;
    this.logger.info({ workerId: spec.workerId, epoch: Number(session.epoch), slots: spec.slots, kept, reconnect: isReconnect }, "worker registered");
    this.watch.changed(spec.workerId);
    this.requestSchedule();
    const registered = {
      workerId: spec.workerId,
      heartbeatInterval: durationFromMs(this.settings.heartbeatIntervalMs),
      heartbeatTimeout: durationFromMs(this.settings.heartbeatTimeoutMs),
      sessionEpoch: session.epoch,
    } as Registered;
    return { session, registered };
  }

  heartbeat(session: WorkerSessionHandle, message: Heartbeat): void {
    const record = this.workers.current(session);
    if (!record) return;
    const now = this.clock.now();
    record.lastHeartbeatMs = now;
    record.cpuUtilization = message.cpuUtilization;
    record.memoryRssBytes = message.memoryRssBytes;
    if (message.draining && record.state === WorkerState.ALIVE) {
      record.state = WorkerState.DRAINING;
      this.logger.info({ workerId: session.workerId, running: this.ledger.unfinishedCount(session.workerId) }, "worker draining");
    }
    const lost = tasksLostOn(this.ledger.unfinishedOn(session.workerId), new Set(message.runningTaskIds), this.settings.heartbeatIntervalMs, now);
    for (const task of lost) this.failAttempt(task, `worker ${session.workerId} no longer reports it running`, { backoff: false });
    this.closeIfDrained(record);
    this.watch.changed(session.workerId);
  }

  /** The stream ended: the worker gets a short grace to reconnect before it is dead. */
  sessionEnded(session: WorkerSessionHandle): void {
    const record = this.workers.current(session);
    if (!record) return;
    record.session = undefined;
    record.streamLostAtMs = this.clock.now();
    if (record.state === WorkerState.DRAINING && this.ledger.unfinishedCount(session.workerId) === 0) {
      this.declareDead(record, "left after draining");
      return;
    }
    record.state = WorkerState.SUSPECT;
    record.graceMs = this.settings.reconnectGraceMs;
    this.logger.warn({ workerId: session.workerId, graceMs: record.graceMs }, "worker stream lost; waiting for it to reconnect");
    this.watch.changed(session.workerId);
  }

  /** Periodic: heartbeat timeouts, expired reconnect grace, task timeouts, forgetting long-dead workers. */
  checkLiveness(): void {
    const verdicts = judgeLiveness({
      workers: this.workers.all(),
      unfinishedOn: (workerId) => this.ledger.unfinishedOn(workerId),
      timeoutOf: (task) => this.timeoutOf(task.task.spec),
      settings: this.settings,
      nowMs: this.clock.now(),
    });
    for (const verdict of verdicts) {
      switch (verdict.kind) {
        case "forget":
          this.workers.forget(verdict.workerId);
          break;
        case "dead":
          this.declareDead(verdict.worker, verdict.reason);
          break;
        case "timed_out":
          this.carryOut(lifecycle.timeOut(this.lifecycleContext, verdict.task, verdict.timeoutMs));
          break;
        default: {
          const unknown: never = verdict;
          throw new Error(`unknown verdict ${JSON.stringify(unknown)}`);
        }
      }
    }
  }

  private declareDead(record: WorkerRecord, reason: string): void {
    const workerId = record.spec.workerId;
    record.state = WorkerState.DEAD;
    record.deadAtMs = this.clock.now();
    record.session?.outbound.close();
    record.session = undefined;
    const orphans = this.ledger.unfinishedOn(workerId);
    this.logger.warn({ workerId, reason, tasksReturned: orphans.length }, "worker declared dead");
    coordinatorCounters.workerDeaths.inc();
    // Re-placed at once, without backoff: the task did nothing wrong.
    for (const task of orphans) this.failAttempt(task, `worker ${workerId} died: ${reason}`, { backoff: false });
    this.watch.removed(workerId, reason);
    this.requestSchedule();
  }

  /** A draining worker with nothing left is told to go (after the commit of its last result). */
  private closeIfDrained(record: WorkerRecord, afterCommit = false): void {
    if (record.state !== WorkerState.DRAINING || this.ledger.unfinishedCount(record.spec.workerId) !== 0) return;
    if (afterCommit) this.outbox.afterCommit(() => record.session?.outbound.close());
    else record.session?.outbound.close();
  }

  // ---- tasks from workers -------------------------------------------------

  taskUpdated(session: WorkerSessionHandle, update: TaskUpdate): void {
    const task = this.ownedTask(session, update.taskId, update.attempt);
    if (!task || update.state !== TaskState.RUNNING) return;
    this.carryOut(lifecycle.markRunning(this.lifecycleContext, task));
  }

  taskFinished(session: WorkerSessionHandle, result: TaskResult): void {
    const record = this.workers.current(session);
    const task = this.ownedTask(session, result.taskId, result.attempt);
    const ack: SessionMessage = { message: { case: "resultAck", value: { taskId: result.taskId, attempt: result.attempt } } };
    if (!record || !task) {
      // Reassigned, cancelled or finished meanwhile: recorded as stale, never
      // counted. Acked all the same, so the worker stops re-sending it.
      coordinatorCounters.staleResults.inc();
      this.logger.info({ workerId: session.workerId, taskId: result.taskId, attempt: result.attempt, succeeded: result.succeeded }, "stale result ignored: that attempt is no longer this worker's");
      session.outbound.push(ack);
      return;
    }
    if (result.duration) {
      // EWMA with weight 0.2: recent results count most, one outlier does not swing it.
      const ms = durationMs(result.duration);
      record.taskLatencyEwmaMs = record.taskLatencyEwmaMs === 0 ? ms : 0.8 * record.taskLatencyEwmaMs + 0.2 * ms;
    }
    if (result.succeeded) {
      record.tasksSucceeded += 1n;
      this.carryOut(lifecycle.succeed(this.lifecycleContext, task, result.output));
    } else {
      record.tasksFailed += 1n;
      this.failAttempt(task, result.error || "failed without a message", { backoff: true });
    }
    this.outbox.afterCommit(() => session.outbound.push(ack));
    this.watch.changed(session.workerId);
    this.closeIfDrained(record, true);
    this.requestSchedule();
  }

  /** The task, if it is unfinished and its current attempt belongs to this session's worker. */
  private ownedTask(session: WorkerSessionHandle, taskId: string, attempt: number): TaskRecord | undefined {
    const task = this.ledger.get(taskId);
    if (!task || isFinal(task.task.state) || !this.workers.current(session)) return undefined;
    return task.task.workerId === session.workerId && task.task.attempt === attempt && task.task.state !== TaskState.PENDING ? task : undefined;
  }

  // ---- placement ----------------------------------------------------------

  /**
   * Records a new task on `workerId` if that worker still exists, takes tasks
   * and has a free slot, all checked and reserved in one synchronous step
   * (nothing else runs between the check and the write). Without a worker,
   * places it on the best worker with room, or queues it. Answers only once
   * the task is durable; if the write fails the reservation is undone and
   * the caller gets UNAVAILABLE.
   */
  async place(input: TaskSpec, workerId: string, traceContext: Record<string, string>): Promise<PlaceResponse> {
    const spec = input.taskId === "" ? create(TaskSpecSchema, { ...input, taskId: randomUUID() }) : input;
    const existing = this.ledger.get(spec.taskId);
    if (existing) {
      const outcome = this.ledger.create(spec, { maxAttempts: 0, traceContext, nowMs: this.clock.now() });
      if (outcome.kind === "conflict") throw alreadyExists(`task ${spec.taskId} exists with different content; use a new task_id`);
      await this.outbox.committed().catch((error: unknown) => this.refuseUnwritable(error));
      return this.response(existing, true, "");
    }
    const request = placementRequestOf(spec);
    const candidates = this.workers.candidates();
    let waitReason: string | undefined;
    let ranking: Ranking | undefined;
    if (workerId !== "") checkTarget(candidates.find((c) => c.workerId === workerId), workerId, request);
    else {
      waitReason = admit(candidates, request, this.fleet);
      if (waitReason === undefined) ranking = this.stack.rank(candidates, request);
    }
    const target = workerId !== "" ? workerId : ranking?.ranked[0]?.worker.workerId;
    if (target === undefined && this.pending.isFull) {
      throw resourceExhausted(`no worker has a free slot and the pending queue is full (max_pending_tasks=${this.pending.limit}); retry later`);
    }
    const { record } = this.ledger.create(spec, { maxAttempts: spec.maxAttempts || this.settings.defaultMaxAttempts, traceContext, nowMs: this.clock.now() });
    if (target !== undefined) this.ledger.assign(record, target, this.clock.now());
    else {
      this.pending.add(record);
      this.fleet?.onQueued();
    }
    this.save(record);
    if (target !== undefined) this.watch.changed(target);
    try {
      await this.outbox.committed();
    } catch (error) {
      // Nobody was told: undo the reservation as if the call never came.
      this.pending.remove(record);
      this.ledger.forget(record);
      this.store.remove(spec.taskId);
      if (target !== undefined) this.watch.changed(target);
      this.refuseUnwritable(error);
    }
    this.accepted += 1;
    if (target !== undefined) {
      if (ranking) this.stack.commit(ranking, target);
      this.sendAssignment(record, target, record.task.attempt);
    }
    return this.response(record, false, waitReason ?? "");
  }

  private refuseUnwritable(error: unknown): never {
    throw unavailable(`the task ledger cannot be written, so no task is accepted: ${errorText(error)}`);
  }

  /** Pushes an assignment down the worker's session, if the task is still that attempt on that worker. */
  private sendAssignment(task: TaskRecord, workerId: string, attempt: number): void {
    const spec = task.task.spec;
    if (!spec || task.task.workerId !== workerId || task.task.attempt !== attempt || isFinal(task.task.state)) return;
    this.logger.debug({ taskId: spec.taskId, workerId, attempt }, "task assigned");
    const effective = spec.timeout ? spec : create(TaskSpecSchema, { ...spec, timeout: durationFromMs(this.settings.defaultTaskTimeoutMs) });
    this.workers.send(workerId, { message: { case: "assignment", value: { taskId: spec.taskId, attempt, task: effective, traceContext: task.traceContext } } });
  }

  /** A waiting task placed by the scheduler: told to the worker (and the strategy) after the commit, back to waiting if the write fails. */
  private dispatch(task: TaskRecord, ranking: Ranking, workerId: string): void {
    this.carryOut(lifecycle.assign(this.lifecycleContext, task, workerId));
    const attempt = task.task.attempt;
    this.outbox.afterCommit(
      () => {
        this.stack.commit(ranking, workerId);
        this.sendAssignment(task, workerId, attempt);
      },
      () => this.carryOut(lifecycle.unassign(this.lifecycleContext, task, workerId, attempt)),
    );
  }

  private response(task: TaskRecord, existing: boolean, reason: string): PlaceResponse {
    const worker = task.task.workerId ? this.workers.get(task.task.workerId) : undefined;
    return create(PlaceResponseSchema, { task: task.task, workerAddress: worker?.spec.address ?? "", existing, reason });
  }

  /** Places waiting tasks on the next turn (see scheduler.ts). */
  requestSchedule(): void {
    this.scheduler.requestSchedule();
  }

  schedulePending(): void {
    this.scheduler.schedulePending();
  }

  // ---- operators ----------------------------------------------------------

  async cancelTask(taskId: string, reason: string): Promise<Task> {
    const task = this.requireTask(taskId);
    if (isFinal(task.task.state)) throw failedPrecondition(`task ${taskId} is already ${TaskState[task.task.state]}`);
    this.carryOut(lifecycle.cancel(this.lifecycleContext, task, reason || "cancelled by an operator"));
    await this.outbox.committed().catch((error: unknown) => this.refuseUnwritable(error));
    this.requestSchedule();
    return task.task;
  }

  async retryTask(taskId: string): Promise<Task> {
    const task = this.requireTask(taskId);
    if (task.task.state !== TaskState.DEAD_LETTERED && task.task.state !== TaskState.CANCELLED) {
      throw failedPrecondition(`task ${taskId} is ${TaskState[task.task.state]}; only DEAD_LETTERED or CANCELLED tasks can be retried`);
    }
    if (this.pending.isFull) throw resourceExhausted(`the pending queue is full (max_pending_tasks=${this.pending.limit}); retry later`);
    this.carryOut(lifecycle.retry(this.lifecycleContext, task, task.task.spec?.maxAttempts || this.settings.defaultMaxAttempts));
    await this.outbox.committed().catch((error: unknown) => this.refuseUnwritable(error));
    this.requestSchedule();
    return task.task;
  }

  purgeFinishedBefore(cutoffMs: number): number {
    const purged = this.store.purgeFinishedBefore(cutoffMs);
    this.ledger.purgeFinishedBefore(cutoffMs);
    return purged;
  }

  drainWorker(workerId: string): WorkerStatus {
    const record = this.requireWorker(workerId);
    if (record.state === WorkerState.ALIVE || record.state === WorkerState.SUSPECT) {
      record.state = WorkerState.DRAINING;
      this.logger.info({ workerId, running: this.ledger.unfinishedCount(workerId) }, "draining worker on request");
    }
    this.workers.send(workerId, { message: { case: "drain", value: { reason: "drained by an operator" } } });
    this.watch.changed(workerId);
    return this.workers.statusOf(record);
  }

  setCordoned(workerId: string, isCordoned: boolean): WorkerStatus {
    const record = this.requireWorker(workerId);
    record.isCordoned = isCordoned;
    this.logger.info({ workerId, isCordoned }, isCordoned ? "worker cordoned" : "worker uncordoned");
    this.watch.changed(workerId);
    if (!isCordoned) this.requestSchedule();
    return this.workers.statusOf(record);
  }

  private requireTask(taskId: string): TaskRecord {
    if (taskId === "") throw invalidArgument("task_id", "is required");
    const task = this.ledger.get(taskId);
    if (!task) throw notFound(`task ${taskId} does not exist`);
    return task;
  }

  private requireWorker(workerId: string): WorkerRecord {
    if (workerId === "") throw invalidArgument("worker_id", "is required");
    const record = this.workers.get(workerId);
    if (!record || record.state === WorkerState.DEAD) throw notFound(`worker ${workerId} is not registered`);
    return record;
  }

  // ---- reads --------------------------------------------------------------

  /** Calls `wake` once when the task becomes final (and durable); returns a function that stops waiting. */
  whenFinal(taskId: string, wake: (record: TaskRecord) => void): () => void {
    return this.finalWaiters.add(taskId, wake);
  }

  private timeoutOf(spec: TaskSpec | undefined): number {
    return spec?.timeout ? durationMs(spec.timeout) : this.settings.defaultTaskTimeoutMs;
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
    const rates = { accepted: this.accepted - this.ratesTakenAt.accepted, finished: this.finished - this.ratesTakenAt.finished };
    this.ratesTakenAt = { accepted: this.accepted, finished: this.finished };
    return rates;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
