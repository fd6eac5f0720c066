// The coordinator's state and its rules: membership, placement with an atomic
// capacity check, the pending queue, failure detection and recovery. The RPC
// files are thin shells over this class.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { createPlacementStack, isCapabilityOffered, type PlacementRequest, type StrategyName } from "../../libs/balancing/index.js";
import {
  PlaceResponseSchema,
  TaskSpecSchema,
  TaskState,
  WorkerState,
  type Heartbeat,
  type PlaceResponse,
  type Register,
  type Registered,
  type TaskResult,
  type TaskSpec,
  type TaskUpdate,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { createMemoryLedger, createPendingQueue, isFinal, type TaskLedger, type TaskRecord } from "../../libs/ledger/index.js";
import { alreadyExists, createAsyncQueue, failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from "../../libs/rpc/index.js";
import { createClusterWatch, type ClusterWatch } from "./cluster-watch.js";
import { candidateOf, stateName, workerStatus, type WorkerRecord, type WorkerSessionHandle } from "./worker-registry.js";

export interface CoordinatorSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly reconnectGraceMs: number;
  readonly maxPendingTasks: number;
  readonly defaultMaxAttempts: number;
  readonly defaultTaskTimeoutMs: number;
  readonly deadWorkerRetentionMs: number;
  readonly isFailureDetectionEnabled: boolean;
  readonly strategy: StrategyName;
}

export interface Clock {
  now(): number;
}

export class Coordinator {
  readonly ledger: TaskLedger = createMemoryLedger();
  readonly watch: ClusterWatch;
  readonly startedAtMs: number;
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly pending;
  private readonly stack;
  private scheduleQueued = false;
  private livenessTimer: NodeJS.Timeout | undefined;
  private acceptedSinceSample = 0;
  /** Callers waiting for a task's final state, by task id (one lookup per finished task). */
  private readonly finalWaiters = new Map<string, Set<(record: TaskRecord) => void>>();
  private finishedSinceSample = 0;

  constructor(
    readonly settings: CoordinatorSettings,
    private readonly logger: Logger,
    private readonly clock: Clock = { now: () => Date.now() },
  ) {
    this.startedAtMs = clock.now();
    this.pending = createPendingQueue(settings.maxPendingTasks);
    this.stack = createPlacementStack({ defaultStrategy: settings.strategy });
    this.watch = createClusterWatch({
      flushIntervalMs: 20,
      snapshot: () => ({ workers: this.listWorkers(false), pendingTasks: this.pending.size }),
      statusOf: (id) => {
        const record = this.workers.get(id);
        return record && record.state !== WorkerState.DEAD ? this.statusOf(record) : undefined;
      },
    });
    this.ledger.onFinal((record) => {
      this.finishedSinceSample += 1;
      const id = record.task.spec?.taskId ?? "";
      const waiting = this.finalWaiters.get(id);
      if (!waiting) return;
      this.finalWaiters.delete(id);
      for (const wake of waiting) wake(record);
    });
  }

  start(): void {
    this.livenessTimer = setInterval(() => this.checkLiveness(), Math.max(50, Math.floor(this.settings.heartbeatIntervalMs / 2)));
  }

  stop(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.watch.stop();
    for (const record of this.workers.values()) record.session?.outbound.close();
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
      deadAtMs: undefined,
    };
    this.workers.set(spec.workerId, record);
    // A task the ledger has on this worker that the worker no longer runs was
    // lost with the old stream (an assignment sent into a dying connection):
    // give it back. Tasks it still runs stay with it.
    const stillRunning = new Set(message.runningTaskIds);
    for (const task of this.ledger.unfinishedOn(spec.workerId)) {
      if (!stillRunning.has(task.task.spec?.taskId ?? "")) this.failAttempt(task, `worker ${spec.workerId} reconnected without it`);
    }
    this.logger.info({ workerId: spec.workerId, epoch: Number(epoch), slots: spec.slots, reconnect: previous !== undefined && previous.state !== WorkerState.DEAD }, "worker registered");
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
    record.lastHeartbeatMs = this.clock.now();
    record.cpuUtilization = message.cpuUtilization;
    record.memoryRssBytes = message.memoryRssBytes;
    if (message.draining && record.state === WorkerState.ALIVE) {
      record.state = WorkerState.DRAINING;
      this.logger.info({ workerId: session.workerId, running: this.ledger.unfinishedCount(session.workerId) }, "worker draining");
    }
    if (record.state === WorkerState.DRAINING && this.ledger.unfinishedCount(session.workerId) === 0) record.session?.outbound.close();
    this.watch.changed(session.workerId);
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
    this.logger.warn({ workerId: session.workerId, graceMs: this.settings.reconnectGraceMs }, "worker stream lost; waiting for it to reconnect");
    this.watch.changed(session.workerId);
  }

  /** Periodic: heartbeat timeouts, expired reconnect grace, forgetting long-dead workers. */
  checkLiveness(): void {
    const now = this.clock.now();
    for (const record of this.workers.values()) {
      if (record.state === WorkerState.DEAD) {
        if (record.deadAtMs !== undefined && now - record.deadAtMs > this.settings.deadWorkerRetentionMs) this.workers.delete(record.spec.workerId);
        continue;
      }
      if (record.state === WorkerState.SUSPECT && record.streamLostAtMs !== undefined && now - record.streamLostAtMs > this.settings.reconnectGraceMs) {
        this.declareDead(record, `stream lost and no reconnect within ${this.settings.reconnectGraceMs} ms`);
        continue;
      }
      if (this.settings.isFailureDetectionEnabled && now - record.lastHeartbeatMs > this.settings.heartbeatTimeoutMs) {
        this.declareDead(record, `no heartbeat for ${now - record.lastHeartbeatMs} ms (timeout ${this.settings.heartbeatTimeoutMs} ms)`);
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
    for (const task of orphans) this.failAttempt(task, `worker ${workerId} died: ${reason}`);
    this.watch.removed(workerId, reason);
    this.requestSchedule();
  }

  private current(session: WorkerSessionHandle): WorkerRecord | undefined {
    const record = this.workers.get(session.workerId);
    return record && record.epoch === session.epoch ? record : undefined;
  }

  // ---- tasks from workers -------------------------------------------------

  taskUpdated(session: WorkerSessionHandle, update: TaskUpdate): void {
    const task = this.ownedTask(session, update.taskId, update.attempt);
    if (!task || update.state !== TaskState.RUNNING || task.task.state !== TaskState.ASSIGNED) return;
    this.ledger.markRunning(task, this.clock.now());
  }

  taskFinished(session: WorkerSessionHandle, result: TaskResult): void {
    const record = this.current(session);
    const task = this.ownedTask(session, result.taskId, result.attempt);
    if (!record || !task) {
      this.logger.info({ workerId: session.workerId, taskId: result.taskId, attempt: result.attempt }, "stale result ignored: the task is no longer this worker's");
      return;
    }
    if (result.succeeded) {
      this.ledger.succeed(task, result.output, this.clock.now());
      record.tasksSucceeded += 1n;
    } else {
      record.tasksFailed += 1n;
      this.failAttempt(task, result.error || "failed without a message");
    }
    this.watch.changed(session.workerId);
    if (record.state === WorkerState.DRAINING && this.ledger.unfinishedCount(session.workerId) === 0) record.session?.outbound.close();
    this.requestSchedule();
  }

  /** The task, if it is unfinished and its current attempt belongs to this session's worker. */
  private ownedTask(session: WorkerSessionHandle, taskId: string, attempt: number): TaskRecord | undefined {
    const task = this.ledger.get(taskId);
    if (!task || isFinal(task.task.state) || !this.current(session)) return undefined;
    return task.task.workerId === session.workerId && task.task.attempt === attempt && task.task.state !== TaskState.PENDING ? task : undefined;
  }

  private failAttempt(task: TaskRecord, error: string): void {
    const workerId = task.task.workerId;
    const next = this.ledger.fail(task, error, this.clock.now());
    if (next === TaskState.PENDING) this.pending.add(task);
    else this.logger.warn({ taskId: task.task.spec?.taskId, attempts: task.task.attempt, error }, "task dead-lettered: no attempt left");
    this.watch.changed(workerId);
  }

  // ---- placement ----------------------------------------------------------

  /**
   * Records a new task on `workerId` if that worker still exists, takes tasks
   * and has a free slot, all checked and recorded in one synchronous step
   * (nothing else runs between the check and the write). Without a worker,
   * places it on the best worker with room, or queues it.
   */
  place(input: TaskSpec, workerId: string, traceContext: Record<string, string>): PlaceResponse {
    const spec = input.taskId === "" ? create(TaskSpecSchema, { ...input, taskId: randomUUID() }) : input;
    const existing = this.ledger.get(spec.taskId);
    if (existing) {
      const outcome = this.ledger.create(spec, { maxAttempts: 0, traceContext, nowMs: this.clock.now() });
      if (outcome.kind === "conflict") throw alreadyExists(`task ${spec.taskId} exists with different content; use a new task_id`);
      return this.response(existing, true);
    }
    const request = placementRequestOf(spec);
    if (workerId !== "") this.checkTarget(workerId, request);
    else this.checkAnyWorkerCanRun(request);
    const target = workerId !== "" ? workerId : this.stack.rank(this.candidates(), request).ranked[0]?.worker.workerId;
    if (target === undefined && this.pending.isFull) {
      throw resourceExhausted(`no worker has a free slot and the pending queue is full (max_pending_tasks=${this.pending.limit}); retry later`);
    }
    const created = this.ledger.create(spec, { maxAttempts: spec.maxAttempts || this.settings.defaultMaxAttempts, traceContext, nowMs: this.clock.now() });
    this.acceptedSinceSample += 1;
    if (target !== undefined) this.dispatch(created.record, target);
    else this.pending.add(created.record);
    return this.response(created.record, false);
  }

  private checkTarget(workerId: string, request: PlacementRequest): void {
    const record = this.workers.get(workerId);
    if (!record || record.state === WorkerState.DEAD) throw notFound(`worker ${workerId} is not registered (it left or never joined)`);
    const ranking = this.stack.rank([this.candidateOf(record)], request);
    const rejection = ranking.rejected[0];
    if (rejection) throw failedPrecondition(`worker ${workerId} cannot take the task: ${rejection.detail} (${rejection.reason})`);
  }

  private checkAnyWorkerCanRun(request: PlacementRequest): void {
    const candidates = this.candidates();
    if (!candidates.some((c) => c.condition !== "dead")) throw unavailable("no workers are registered; start a worker agent and retry");
    if (!isCapabilityOffered(candidates, request)) {
      throw unavailable(`no registered worker offers every required capability [${request.requiredCapabilities.join(", ")}]`);
    }
  }

  private dispatch(task: TaskRecord, workerId: string): void {
    const record = this.workers.get(workerId);
    const spec = task.task.spec;
    if (!record?.session || !spec) throw new Error(`dispatch to ${workerId} without a session`);
    this.pending.remove(task);
    this.ledger.assign(task, workerId, this.clock.now());
    this.logger.debug({ taskId: spec.taskId, workerId, attempt: task.task.attempt }, "task assigned");
    const effective = spec.timeout ? spec : create(TaskSpecSchema, { ...spec, timeout: durationFromMs(this.settings.defaultTaskTimeoutMs) });
    record.session.outbound.push({
      message: {
        case: "assignment",
        value: { taskId: spec.taskId, attempt: task.task.attempt, task: effective, traceContext: task.traceContext },
      },
    });
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
    let candidates = this.candidates();
    for (const task of this.pending.inOrder()) {
      if (!candidates.some((c) => c.condition === "alive" && c.inFlight < c.slots)) return;
      const spec = task.task.spec;
      if (!spec) continue;
      const best = this.stack.rank(candidates, placementRequestOf(spec)).ranked[0];
      if (!best) continue;
      this.dispatch(task, best.worker.workerId);
      candidates = candidates.map((c) => (c.workerId === best.worker.workerId ? { ...c, inFlight: c.inFlight + 1 } : c));
    }
  }

  /** Calls `wake` once when the task becomes final; returns a function that stops waiting. */
  whenFinal(taskId: string, wake: (record: TaskRecord) => void): () => void {
    let waiting = this.finalWaiters.get(taskId);
    if (!waiting) this.finalWaiters.set(taskId, (waiting = new Set()));
    waiting.add(wake);
    return () => {
      waiting.delete(wake);
      if (waiting.size === 0 && this.finalWaiters.get(taskId) === waiting) this.finalWaiters.delete(taskId);
    };
  }

  // ---- reads --------------------------------------------------------------

  private candidates() {
    return [...this.workers.values()].filter((w) => w.state !== WorkerState.DEAD).map((w) => this.candidateOf(w));
  }

  private candidateOf(record: WorkerRecord) {
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
    const rates = { accepted: this.acceptedSinceSample, finished: this.finishedSinceSample };
    this.acceptedSinceSample = 0;
    this.finishedSinceSample = 0;
    return rates;
  }
}

function placementRequestOf(spec: TaskSpec): PlacementRequest {
  return { taskId: spec.taskId, routingKey: spec.routingKey, requiredCapabilities: spec.requiredCapabilities, preferredRegion: spec.preferredRegion };
}
