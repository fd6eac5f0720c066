// The coordinator's state and its rules: membership, placement with an atomic
// capacity check, the pending queue, retries, leases, failure detection and
// recovery. Every task transition is saved to the durable store and nobody
// hears of it before the commit (commit-outbox.ts). The RPC files are thin
// shells over this class.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { candidateOf, createPlacementStack, filterFeasible, isCapabilityOffered, type PlacementRequest, type StrategyName, type StrategyOptions, type WorkerCandidate } from "../../libs/balancing/index.js";
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
  type WorkerSpec,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import {
  backoffPolicyOf,
  createMemoryLedger,
  createPendingQueue,
  isFinal,
  retryDelayMs,
  type BackoffPolicy,
  type TaskLedger,
  type TaskRecord,
} from "../../libs/ledger/index.js";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import { alreadyExists, createAsyncQueue, failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from "../../libs/rpc/index.js";
import { createClusterWatch, type ClusterWatch } from "./cluster-watch.js";
import { createCommitOutbox, type CommitOutbox } from "./commit-outbox.js";
import { coordinatorCounters, observeCoordinator } from "./coordinator-metrics.js";
import { stateName, workerStatus, type SessionMessage, type WorkerRecord, type WorkerSessionHandle } from "./worker-registry.js";

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

export interface RecoverySummary {
  readonly tasks: number;
  readonly pending: number;
  readonly unfinishedOnWorkers: number;
  readonly workersAwaited: number;
}

export class Coordinator {
  readonly ledger: TaskLedger = createMemoryLedger();
  readonly watch: ClusterWatch;
  readonly outbox: CommitOutbox;
  readonly startedAtMs: number;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly pending;
  private readonly stack;
  private scheduleQueued = false;
  private livenessTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Number.POSITIVE_INFINITY;
  /** Since start, never reset: each reader takes rates as differences (takeRates for the load reporter, the autoscaler its own). */
  acceptedTotal = 0;
  finishedTotal = 0;
  private ratesTakenAt = { accepted: 0, finished: 0 };
  /**
   * Set by the autoscaler when it can start workers: then a task that
   * arrives with no worker registered waits in the queue while the fleet
   * wakes, instead of being refused. Returns whether it will wake it.
   */
  fleetWaker: (() => boolean) | undefined;
  /** Set by the autoscaler: a task had to wait for a slot (the fleet is full), worth a look before the next sync. */
  onQueued: (() => void) | undefined;
  /** Callers waiting for a task's final state, by task id (one lookup per finished task). */
  private readonly finalWaiters = new Map<string, Set<(record: TaskRecord) => void>>();

  constructor(
    readonly settings: CoordinatorSettings,
    private readonly logger: Logger,
    private readonly store: TaskStore,
    private readonly clock: Clock = { now: () => Date.now() },
    private readonly random: () => number = Math.random,
  ) {
    this.startedAtMs = clock.now();
    this.outbox = createCommitOutbox(store, logger, { onWritableAgain: () => this.requestSchedule() });
    this.pending = createPendingQueue(settings.maxPendingTasks);
    this.stack = createPlacementStack({ defaultStrategy: settings.strategy, random, now: () => clock.now(), strategies: settings.strategyOptions });
    this.watch = createClusterWatch({
      flushIntervalMs: 20,
      snapshot: () => ({ workers: this.listWorkers(false), pendingTasks: this.pending.size }),
      statusOf: (id) => {
        const record = this.workers.get(id);
        return record && record.state !== WorkerState.DEAD ? this.statusOf(record) : undefined;
      },
    });
    // A waiting AwaitTask hears of a final state only once it is durable.
    this.ledger.onFinal((record) => {
      this.finishedTotal += 1;
      this.outbox.afterCommit(() => this.wakeWaiters(record));
    });
    observeCoordinator(this);
  }

  start(): void {
    // The recovery grace of workers known from the ledger counts from now,
    // when the server takes calls, not from when the ledger was read.
    const now = this.clock.now();
    for (const record of this.workers.values()) {
      if (record.epoch === 0n && record.state === WorkerState.SUSPECT) record.streamLostAtMs = now;
    }
    // A quarter interval: a silent worker is noticed at most that long after its timeout.
    this.livenessTimer = setInterval(() => this.checkLiveness(), Math.max(50, Math.floor(this.settings.heartbeatIntervalMs / 4)));
  }

  /** Stops the loops, closes sessions and writes what is still queued. */
  async stop(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.watch.stop();
    for (const record of this.workers.values()) record.session?.outbound.close();
    await this.outbox.drain().catch((error: unknown) => this.logger.error({ err: error instanceof Error ? error.message : String(error) }, "could not write the last transitions"));
  }

  /**
   * Rebuilds the ledger from the store after a restart. Tasks that were on a
   * worker stay with it if it comes back within the recovery grace and says
   * it still runs them; the rest go back to PENDING then.
   */
  recover(): RecoverySummary {
    const now = this.clock.now();
    let tasks = 0;
    const owners = new Set<string>();
    for (const entry of this.store.loadAll()) {
      const record = this.ledger.restore(entry);
      tasks += 1;
      if (record.task.state === TaskState.PENDING) this.pending.add(record);
      else if (!isFinal(record.task.state) && record.task.workerId) {
        record.startedAtMs = now;
        owners.add(record.task.workerId);
      }
    }
    for (const workerId of owners) {
      this.workers.set(workerId, this.awaitedWorker(workerId, now));
    }
    const summary = { tasks, pending: this.pending.size, unfinishedOnWorkers: [...owners].reduce((n, id) => n + this.ledger.unfinishedCount(id), 0), workersAwaited: owners.size };
    this.logger.info(summary, "task ledger recovered");
    this.requestSchedule();
    return summary;
  }

  /** A worker known only from the ledger: it had tasks when the coordinator stopped. */
  private awaitedWorker(workerId: string, nowMs: number): WorkerRecord {
    return {
      spec: { workerId, slots: 0 } as WorkerSpec,
      state: WorkerState.SUSPECT,
      epoch: 0n,
      session: undefined,
      registeredAtMs: nowMs,
      lastHeartbeatMs: nowMs,
      cpuUtilization: 0,
      memoryRssBytes: 0n,
      tasksSucceeded: 0n,
      tasksFailed: 0n,
      streamLostAtMs: nowMs,
      graceMs: this.settings.recoveryGraceMs,
      deadAtMs: undefined,
      isCordoned: false,
      taskLatencyEwmaMs: 0,
    };
  }

  // ---- membership ---------------------------------------------------------

  /** Opens (or re-opens) a worker's session. Tasks it still runs stay with it. */
  register(message: Register): { session: WorkerSessionHandle; registered: Registered } {
    const spec = message.worker;
    if (!spec) throw invalidArgument("register.worker", "is required");
    if (spec.slots < 1 || spec.slots > 1024) throw invalidArgument("register.worker.slots", `${spec.slots} must be 1..1024`);
    if (spec.workerId === "") spec.workerId = `worker-${randomUUID().slice(0, 8)}`;
    if (!/^[A-Za-z0-9._:\-]{1,128}$/.test(spec.workerId)) {
      throw invalidArgument("register.worker.worker_id", "must be 1..128 characters of letters, digits and . _ : -");
    }
    const now = this.clock.now();
    const previous = this.workers.get(spec.workerId);
    const epoch = (previous?.epoch ?? 0n) + 1n;
    previous?.session?.outbound.close();
    const session: WorkerSessionHandle = { workerId: spec.workerId, epoch, outbound: createAsyncQueue() };
    const record: WorkerRecord = {
      spec,
      state: WorkerState.ALIVE,
      epoch,
      session,
      registeredAtMs: now,
      lastHeartbeatMs: now,
      cpuUtilization: 0,
      memoryRssBytes: 0n,
      tasksSucceeded: previous?.tasksSucceeded ?? 0n,
      tasksFailed: previous?.tasksFailed ?? 0n,
      streamLostAtMs: undefined,
      graceMs: this.settings.reconnectGraceMs,
      deadAtMs: undefined,
      isCordoned: previous?.isCordoned ?? false,
      taskLatencyEwmaMs: previous?.taskLatencyEwmaMs ?? 0,
    };
    this.workers.set(spec.workerId, record);
    // A task the ledger has on this worker that the worker no longer runs was
    // lost with the old stream (an assignment sent into a dying connection, or
    // a worker that restarted): it goes back for another attempt.
    const stillRunning = new Set(message.runningTaskIds);
    let kept = 0;
    for (const task of this.ledger.unfinishedOn(spec.workerId)) {
      if (stillRunning.has(task.task.spec?.taskId ?? "")) kept += 1;
      else this.failAttempt(task, `worker ${spec.workerId} came back without it`, { backoff: false });
    }
    this.logger.info({ workerId: spec.workerId, epoch: Number(epoch), slots: spec.slots, kept, reconnect: previous !== undefined && previous.state !== WorkerState.DEAD }, "worker registered");
    this.watch.changed(spec.workerId);
    this.requestSchedule();
    const registered = {
      workerId: spec.workerId,
      heartbeatInterval: durationFromMs(this.settings.heartbeatIntervalMs),
      heartbeatTimeout: durationFromMs(this.settings.heartbeatTimeoutMs),
      sessionEpoch: epoch,
    } as Registered;
    return { session, registered };
  }

  heartbeat(session: WorkerSessionHandle, message: Heartbeat): void {
    const record = this.current(session);
    if (!record) return;
    const now = this.clock.now();
    record.lastHeartbeatMs = now;
    record.cpuUtilization = message.cpuUtilization;
    record.memoryRssBytes = message.memoryRssBytes;
    if (message.draining && record.state === WorkerState.ALIVE) {
      record.state = WorkerState.DRAINING;
      this.logger.info({ workerId: session.workerId, running: this.ledger.unfinishedCount(session.workerId) }, "worker draining");
    }
    this.reconcileRunning(record, new Set(message.runningTaskIds), now);
    if (record.state === WorkerState.DRAINING && this.ledger.unfinishedCount(session.workerId) === 0) record.session?.outbound.close();
    this.watch.changed(session.workerId);
  }

  /**
   * The worker's heartbeat is the lease on its tasks: a task we placed on it
   * a while ago (three heartbeats and at least 2 s, so an assignment still on
   * the wire is not mistaken) that it does not report running was lost there.
   */
  private reconcileRunning(record: WorkerRecord, running: ReadonlySet<string>, nowMs: number): void {
    // At least 2 s: under heavy load a heartbeat written before the
    // assignment arrived can be read well after it was sent.
    const settleMs = Math.max(3 * this.settings.heartbeatIntervalMs, 2000);
    for (const task of this.ledger.unfinishedOn(record.spec.workerId)) {
      if (running.has(task.task.spec?.taskId ?? "")) continue;
      if (task.startedAtMs !== undefined && nowMs - task.startedAtMs > settleMs) {
        this.failAttempt(task, `worker ${record.spec.workerId} no longer reports it running`, { backoff: false });
      }
    }
  }

  /** The stream ended: the worker gets a short grace to reconnect before it is dead. */
  sessionEnded(session: WorkerSessionHandle): void {
    const record = this.current(session);
    if (!record || record.state === WorkerState.DEAD) return;
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
    const now = this.clock.now();
    for (const record of this.workers.values()) {
      if (record.state === WorkerState.DEAD) {
        if (record.deadAtMs !== undefined && now - record.deadAtMs > this.settings.deadWorkerRetentionMs) this.workers.delete(record.spec.workerId);
        continue;
      }
      if (record.state === WorkerState.SUSPECT && record.streamLostAtMs !== undefined && now - record.streamLostAtMs > record.graceMs) {
        this.declareDead(record, `stream lost and no reconnect within ${record.graceMs} ms`);
        continue;
      }
      if (this.settings.isFailureDetectionEnabled && record.state !== WorkerState.SUSPECT && now - record.lastHeartbeatMs > this.settings.heartbeatTimeoutMs) {
        this.declareDead(record, `no heartbeat for ${now - record.lastHeartbeatMs} ms (timeout ${this.settings.heartbeatTimeoutMs} ms)`);
        continue;
      }
      this.expireTimedOut(record, now);
    }
  }

  /** A task past its timeout (plus a little slack for the worker's own report) is cancelled there and retried. */
  private expireTimedOut(record: WorkerRecord, nowMs: number): void {
    const slackMs = Math.max(1000, 2 * this.settings.heartbeatIntervalMs);
    for (const task of this.ledger.unfinishedOn(record.spec.workerId)) {
      if (task.startedAtMs === undefined) continue;
      const timeoutMs = this.timeoutOf(task.task.spec);
      if (nowMs - task.startedAtMs <= timeoutMs + slackMs) continue;
      const attempt = task.task.attempt;
      const reason = `timed out after ${timeoutMs / 1000} s`;
      this.failAttempt(task, reason, { backoff: true });
      this.outbox.afterCommit(() => this.sendToWorker(record.spec.workerId, { message: { case: "cancellation", value: { taskId: task.task.spec?.taskId ?? "", attempt, reason } } }));
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

  /** The worker record this session still speaks for: same incarnation, not declared dead. */
  private current(session: WorkerSessionHandle): WorkerRecord | undefined {
    const record = this.workers.get(session.workerId);
    return record && record.epoch === session.epoch && record.state !== WorkerState.DEAD ? record : undefined;
  }

  private sendToWorker(workerId: string, message: SessionMessage): void {
    this.workers.get(workerId)?.session?.outbound.push(message);
  }

  // ---- tasks from workers -------------------------------------------------

  taskUpdated(session: WorkerSessionHandle, update: TaskUpdate): void {
    const task = this.ownedTask(session, update.taskId, update.attempt);
    if (!task || update.state !== TaskState.RUNNING || task.task.state !== TaskState.ASSIGNED) return;
    this.ledger.markRunning(task, this.clock.now());
    this.persist(task);
  }

  taskFinished(session: WorkerSessionHandle, result: TaskResult): void {
    const record = this.current(session);
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
      const ms = Number(result.duration.seconds) * 1000 + result.duration.nanos / 1e6;
      record.taskLatencyEwmaMs = record.taskLatencyEwmaMs === 0 ? ms : 0.8 * record.taskLatencyEwmaMs + 0.2 * ms;
    }
    if (result.succeeded) {
      this.ledger.succeed(task, result.output, this.clock.now());
      this.persist(task);
      record.tasksSucceeded += 1n;
    } else {
      record.tasksFailed += 1n;
      this.failAttempt(task, result.error || "failed without a message", { backoff: true });
    }
    this.outbox.afterCommit(() => session.outbound.push(ack));
    this.watch.changed(session.workerId);
    if (record.state === WorkerState.DRAINING && this.ledger.unfinishedCount(session.workerId) === 0) {
      this.outbox.afterCommit(() => record.session?.outbound.close());
    }
    this.requestSchedule();
  }

  /** The task, if it is unfinished and its current attempt belongs to this session's worker. */
  private ownedTask(session: WorkerSessionHandle, taskId: string, attempt: number): TaskRecord | undefined {
    const task = this.ledger.get(taskId);
    if (!task || isFinal(task.task.state) || !this.current(session)) return undefined;
    return task.task.workerId === session.workerId && task.task.attempt === attempt && task.task.state !== TaskState.PENDING ? task : undefined;
  }

  private failAttempt(task: TaskRecord, error: string, options: { backoff: boolean }): void {
    const workerId = task.task.workerId;
    const now = this.clock.now();
    const delayMs = options.backoff ? retryDelayMs(task.task.attempt, backoffPolicyOf(task.task.spec, this.settings.retryBackoff), this.random) : 0;
    const next = this.ledger.fail(task, error, now, now + delayMs);
    this.persist(task);
    if (next === TaskState.PENDING) {
      coordinatorCounters.retries.inc();
      this.pending.add(task);
      if (delayMs > 0) this.wakeAt(now + delayMs);
    } else {
      this.logger.warn({ taskId: task.task.spec?.taskId, attempts: task.task.attempt, error }, "task dead-lettered: no attempt left");
    }
    if (workerId) this.watch.changed(workerId);
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
      return this.response(existing, true);
    }
    const request = placementRequestOf(spec);
    if (workerId !== "") this.checkTarget(workerId, request);
    else this.checkAnyWorkerCanRun(request);
    const target = workerId !== "" ? workerId : this.stack.rank(this.candidates(), request).ranked[0]?.worker.workerId;
    if (target === undefined && this.pending.isFull) {
      throw resourceExhausted(`no worker has a free slot and the pending queue is full (max_pending_tasks=${this.pending.limit}); retry later`);
    }
    const { record } = this.ledger.create(spec, { maxAttempts: spec.maxAttempts || this.settings.defaultMaxAttempts, traceContext, nowMs: this.clock.now() });
    if (target !== undefined) this.ledger.assign(record, target, this.clock.now());
    else {
      this.pending.add(record);
      this.onQueued?.();
    }
    this.persist(record);
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
    this.acceptedTotal += 1;
    if (target !== undefined) this.sendAssignment(record, target, record.task.attempt);
    return this.response(record, false);
  }

  private refuseUnwritable(error: unknown): never {
    const message = error instanceof Error ? error.message : String(error);
    throw unavailable(`the task ledger cannot be written, so no task is accepted: ${message}`);
  }

  private checkTarget(workerId: string, request: PlacementRequest): void {
    const record = this.workers.get(workerId);
    if (!record || record.state === WorkerState.DEAD) throw notFound(`worker ${workerId} is not registered (it left or never joined)`);
    const rejection = filterFeasible([this.candidateOf(record)], request).rejected[0];
    if (rejection) throw failedPrecondition(`worker ${workerId} cannot take the task: ${rejection.detail} (${rejection.reason})`);
  }

  private checkAnyWorkerCanRun(request: PlacementRequest): void {
    const candidates = this.candidates();
    if (!candidates.some((c) => c.condition !== "dead" && c.slots > 0)) {
      // Scale to zero: the first task is what wakes the fleet; capabilities are checked once workers exist.
      if (this.fleetWaker?.()) return;
      throw unavailable("no workers are registered; start a worker agent and retry");
    }
    if (!isCapabilityOffered(candidates.filter((c) => c.slots > 0), request)) {
      throw unavailable(`no registered worker offers every required capability [${request.requiredCapabilities.join(", ")}]`);
    }
  }

  /** Pushes an assignment down the worker's session, if the task is still that attempt on that worker. */
  private sendAssignment(task: TaskRecord, workerId: string, attempt: number): void {
    const spec = task.task.spec;
    if (!spec || task.task.workerId !== workerId || task.task.attempt !== attempt || isFinal(task.task.state)) return;
    this.logger.debug({ taskId: spec.taskId, workerId, attempt }, "task assigned");
    const effective = spec.timeout ? spec : create(TaskSpecSchema, { ...spec, timeout: durationFromMs(this.settings.defaultTaskTimeoutMs) });
    this.sendToWorker(workerId, { message: { case: "assignment", value: { taskId: spec.taskId, attempt, task: effective, traceContext: task.traceContext } } });
  }

  /** A waiting task placed by the coordinator itself: told to the worker after the commit. */
  private dispatch(task: TaskRecord, workerId: string): void {
    this.pending.remove(task);
    this.ledger.assign(task, workerId, this.clock.now());
    this.persist(task);
    const attempt = task.task.attempt;
    this.outbox.afterCommit(
      () => this.sendAssignment(task, workerId, attempt),
      () => {
        // The assignment was never written: back to waiting.
        if (task.task.state !== TaskState.ASSIGNED || task.task.workerId !== workerId || task.task.attempt !== attempt) return;
        this.ledger.unassign(task, this.clock.now());
        this.pending.add(task);
        this.persist(task);
        this.watch.changed(workerId);
      },
    );
    this.watch.changed(workerId);
  }

  private response(task: TaskRecord, existing: boolean): PlaceResponse {
    const worker = task.task.workerId ? this.workers.get(task.task.workerId) : undefined;
    return create(PlaceResponseSchema, { task: task.task, workerAddress: worker?.spec.address ?? "", existing });
  }

  /** Places waiting tasks, highest priority and oldest first, as slots free up. Batched per tick. */
  requestSchedule(): void {
    if (this.scheduleQueued || this.pending.size === 0) return;
    this.scheduleQueued = true;
    setImmediate(() => {
      this.scheduleQueued = false;
      this.schedulePending();
    });
  }

  schedulePending(): void {
    // While the ledger cannot be written, nothing new is placed (the retry
    // timer of the outbox finds out when it can again).
    if (!this.outbox.isHealthy) return;
    const now = this.clock.now();
    let candidates = this.candidates();
    let earliestWaitMs = Number.POSITIVE_INFINITY;
    for (const task of this.pending.inOrder()) {
      if (!candidates.some((c) => c.condition === "alive" && c.inFlight < c.slots)) break;
      const spec = task.task.spec;
      if (!spec) continue;
      const notBeforeMs = task.task.notBefore ? timestampMs(task.task.notBefore) : 0;
      if (notBeforeMs > now) {
        earliestWaitMs = Math.min(earliestWaitMs, notBeforeMs);
        continue;
      }
      const best = this.stack.rank(candidates, placementRequestOf(spec)).ranked[0];
      if (!best) continue;
      task.task.notBefore = undefined;
      this.dispatch(task, best.worker.workerId);
      candidates = candidates.map((c) => (c.workerId === best.worker.workerId ? { ...c, inFlight: c.inFlight + 1 } : c));
    }
    if (Number.isFinite(earliestWaitMs)) this.wakeAt(earliestWaitMs);
  }

  /** Runs the scheduler when the earliest backoff ends. */
  private wakeAt(atMs: number): void {
    if (atMs >= this.wakeAtMs && this.wakeTimer) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAtMs = Number.POSITIVE_INFINITY;
      this.schedulePending();
    }, Math.max(0, atMs - this.clock.now()));
  }

  // ---- operators ----------------------------------------------------------

  async cancelTask(taskId: string, reason: string): Promise<Task> {
    const task = this.requireTask(taskId);
    if (isFinal(task.task.state)) throw failedPrecondition(`task ${taskId} is already ${TaskState[task.task.state]}`);
    const workerId = task.task.workerId;
    const attempt = task.task.attempt;
    const wasOnWorker = task.task.state === TaskState.ASSIGNED || task.task.state === TaskState.RUNNING;
    this.pending.remove(task);
    this.ledger.cancel(task, reason || "cancelled by an operator", this.clock.now());
    this.persist(task);
    await this.outbox.committed().catch((error: unknown) => this.refuseUnwritable(error));
    if (wasOnWorker) this.sendToWorker(workerId, { message: { case: "cancellation", value: { taskId, attempt, reason: reason || "cancelled by an operator" } } });
    if (workerId) this.watch.changed(workerId);
    this.requestSchedule();
    return task.task;
  }

  async retryTask(taskId: string): Promise<Task> {
    const task = this.requireTask(taskId);
    if (task.task.state !== TaskState.DEAD_LETTERED && task.task.state !== TaskState.CANCELLED) {
      throw failedPrecondition(`task ${taskId} is ${TaskState[task.task.state]}; only DEAD_LETTERED or CANCELLED tasks can be retried`);
    }
    if (this.pending.isFull) throw resourceExhausted(`the pending queue is full (max_pending_tasks=${this.pending.limit}); retry later`);
    this.ledger.retry(task, task.task.spec?.maxAttempts || this.settings.defaultMaxAttempts, this.clock.now());
    this.pending.add(task);
    this.persist(task);
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
    this.sendToWorker(workerId, { message: { case: "drain", value: { reason: "drained by an operator" } } });
    this.watch.changed(workerId);
    return this.statusOf(record);
  }

  setCordoned(workerId: string, isCordoned: boolean): WorkerStatus {
    const record = this.requireWorker(workerId);
    record.isCordoned = isCordoned;
    this.logger.info({ workerId, isCordoned }, isCordoned ? "worker cordoned" : "worker uncordoned");
    this.watch.changed(workerId);
    if (!isCordoned) this.requestSchedule();
    return this.statusOf(record);
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

  // ---- durability ---------------------------------------------------------

  private persist(task: TaskRecord): void {
    this.store.save({ task: task.task, maxAttempts: task.maxAttempts, traceContext: task.traceContext, sequence: task.sequence });
  }

  /** Calls `wake` once when the task becomes final (and durable); returns a function that stops waiting. */
  whenFinal(taskId: string, wake: (record: TaskRecord) => void): () => void {
    let waiting = this.finalWaiters.get(taskId);
    if (!waiting) this.finalWaiters.set(taskId, (waiting = new Set()));
    waiting.add(wake);
    return () => {
      waiting.delete(wake);
      if (waiting.size === 0 && this.finalWaiters.get(taskId) === waiting) this.finalWaiters.delete(taskId);
    };
  }

  private wakeWaiters(record: TaskRecord): void {
    const id = record.task.spec?.taskId ?? "";
    const waiting = this.finalWaiters.get(id);
    if (!waiting) return;
    this.finalWaiters.delete(id);
    for (const wake of waiting) wake(record);
  }

  // ---- reads --------------------------------------------------------------

  private timeoutOf(spec: TaskSpec | undefined): number {
    const timeout = spec?.timeout;
    return timeout ? Number(timeout.seconds) * 1000 + Math.floor(timeout.nanos / 1e6) : this.settings.defaultTaskTimeoutMs;
  }

  private candidates(): WorkerCandidate[] {
    return [...this.workers.values()].filter((w) => w.state !== WorkerState.DEAD).map((w) => this.candidateOf(w));
  }

  private candidateOf(record: WorkerRecord): WorkerCandidate {
    return candidateOf(this.statusOf(record));
  }

  statusOf(record: WorkerRecord): WorkerStatus {
    return workerStatus(record, this.ledger.unfinishedCount(record.spec.workerId));
  }

  listWorkers(includeDead: boolean): WorkerStatus[] {
    return [...this.workers.values()]
      .filter((w) => includeDead || w.state !== WorkerState.DEAD)
      .sort((a, b) => (a.spec.workerId < b.spec.workerId ? -1 : 1))
      .map((w) => this.statusOf(w));
  }

  getWorker(workerId: string): WorkerStatus | undefined {
    const record = this.workers.get(workerId);
    return record ? this.statusOf(record) : undefined;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  workerCounts(): Record<"alive" | "suspect" | "draining" | "dead", number> & { totalSlots: number; busySlots: number } {
    const counts = { alive: 0, suspect: 0, draining: 0, dead: 0, totalSlots: 0, busySlots: 0 };
    for (const record of this.workers.values()) {
      const name = stateName(record.state).toLowerCase() as "alive" | "suspect" | "draining" | "dead";
      if (name in counts) counts[name] += 1;
      if (record.state === WorkerState.ALIVE || record.state === WorkerState.DRAINING) {
        counts.totalSlots += record.spec.slots;
        counts.busySlots += this.ledger.unfinishedCount(record.spec.workerId);
      }
    }
    return counts;
  }

  /** Tasks accepted and finished since the last call (for load samples). */
  takeRates(): { accepted: number; finished: number } {
    const rates = { accepted: this.acceptedTotal - this.ratesTakenAt.accepted, finished: this.finishedTotal - this.ratesTakenAt.finished };
    this.ratesTakenAt = { accepted: this.acceptedTotal, finished: this.finishedTotal };
    return rates;
  }
}

function placementRequestOf(spec: TaskSpec): PlacementRequest {
  return { taskId: spec.taskId, routingKey: spec.routingKey, requiredCapabilities: spec.requiredCapabilities, preferredRegion: spec.preferredRegion };
}
