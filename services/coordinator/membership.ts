// Membership and liveness: workers join (or rejoin) on a session, heartbeat,
// lose their stream, and are declared dead when the liveness judgement says
// so; a dead worker's unfinished tasks go back for another attempt at once.
// After the coordinator's own pause, judgement waits (pause-hold.ts).
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import {
  WorkerState,
  type Heartbeat,
  type Register,
  type Registered,
  type TaskSpec,
} from "../../libs/contracts/index.js";
import type { TaskRecord } from "../../libs/ledger/index.js";
import { createAsyncQueue, invalidArgument } from "../../libs/rpc/index.js";
import type { CoordinatorParts } from "./coordinator-parts.js";
import { coordinatorCounters } from "./coordinator-metrics.js";
import { judgeLiveness, livenessTickMs, tasksLostOn, type LivenessHold } from "./liveness.js";
import { pauseToleranceMs, type ClockReading } from "./pause-detector.js";
import { createPauseHold, type HoldCounts } from "./pause-hold.js";
import * as lifecycle from "./task-lifecycle.js";
import {
  registeredWorker,
  type WorkerRecord,
  type WorkerSessionHandle,
} from "./worker-registry.js";

const WORKER_ID_PATTERN = /^[A-Za-z0-9._:\-]{1,128}$/;

export interface Membership {
  /** Opens (or re-opens) a worker's session. Tasks it still runs stay with it. */
  register(message: Register): { session: WorkerSessionHandle; registered: Registered };
  heartbeat(session: WorkerSessionHandle, message: Heartbeat): void;
  /** The stream ended: the worker gets a short grace to reconnect before it is dead. */
  sessionEnded(session: WorkerSessionHandle): void;
  /** Periodic: heartbeat timeouts, expired reconnect grace, task timeouts, forgetting long-dead workers. */
  checkLiveness(): void;
  /** What the liveness timer runs: first whether the coordinator itself was away, then checkLiveness. */
  tickLiveness(): void;
}

/** A draining worker with nothing left is told to go (after the commit of its last result, when asked). */
export function closeIfDrained(
  parts: CoordinatorParts,
  record: WorkerRecord,
  options: { afterCommit: boolean },
): void {
  if (
    record.state !== WorkerState.DRAINING ||
    parts.ledger.unfinishedCount(record.spec.workerId) !== 0
  )
    return;
  if (options.afterCommit) parts.outbox.afterCommit(() => record.session?.outbound.close());
  else record.session?.outbound.close();
}

/** The task's own timeout, or the configured default. */
export function timeoutMsOf(spec: TaskSpec | undefined, defaultMs: number): number {
  return spec?.timeout ? durationMs(spec.timeout) : defaultMs;
}

export function createMembership(parts: CoordinatorParts): Membership {
  const { ledger, workers, watch, logger, settings } = parts;
  // Lost with its worker (dead, or it no longer runs it): placed again at once, without backoff.
  const loseAttempt = (task: TaskRecord, error: string): void =>
    parts.apply(lifecycle.failAttempt(parts.lifecycle(), task, error, { cause: "lost" }));

  const declareDead = (record: WorkerRecord, reason: string): void => {
    const workerId = record.spec.workerId;
    record.state = WorkerState.DEAD;
    record.deadAtMs = parts.now();
    record.session?.outbound.close();
    record.session = undefined;
    const orphans = ledger.unfinishedOn(workerId);
    logger.warn({ workerId, reason, tasksReturned: orphans.length }, "worker declared dead");
    coordinatorCounters.workerDeaths.inc();
    // Re-placed at once, without backoff: the task did nothing wrong.
    for (const task of orphans) loseAttempt(task, `worker ${workerId} died: ${reason}`);
    watch.removed(workerId, reason);
    parts.requestSchedule();
  };

  // Workers are not blamed for the coordinator's own silence (pause-hold.ts).
  const pauseHold = createPauseHold({
    logger,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
    tickIntervalMs: livenessTickMs(settings.heartbeatIntervalMs),
    toleranceMs: pauseToleranceMs(settings),
  });
  const clocks = (): ClockReading => ({ wallMs: parts.now(), monotonicMs: parts.monotonicNow() });
  const holdInForce = (): LivenessHold | undefined =>
    pauseHold.inForce(parts.monotonicNow(), () => workers.all());
  const judge = (hold: LivenessHold | undefined) =>
    judgeLiveness({
      workers: workers.all(),
      unfinishedOn: (workerId) => ledger.unfinishedOn(workerId),
      timeoutOf: (task) => timeoutMsOf(task.task.spec, settings.defaultTaskTimeoutMs),
      settings,
      nowMs: parts.now(),
      monotonicNowMs: parts.monotonicNow(),
      hold,
    });

  const holdCounts = (): HoldCounts => {
    let notJudged = 0;
    for (const record of workers.all()) if (record.state !== WorkerState.DEAD) notJudged += 1;
    // What the stale view would have done: the blame the hold prevents.
    const wouldHaveDeclaredDead = judge(undefined).filter((v) => v.kind === "dead").length;
    return { notJudged, wouldHaveDeclaredDead };
  };

  // Its own tasks against what it reports running, read once: those it no
  // longer reports are lost; what it reports beyond them is stale. Not while
  // a pause hold lasts: a heartbeat read then may predate an assignment.
  const settleReported = (record: WorkerRecord, nowMs: number): void => {
    const workerId = record.spec.workerId;
    const own = ledger.unfinishedOn(workerId);
    if (holdInForce() === undefined) {
      const lost = tasksLostOn(own, record.reportedRunning, settings.heartbeatIntervalMs, nowMs);
      for (const task of lost) loseAttempt(task, `worker ${workerId} no longer reports it running`);
    }
    record.staleRunning = staleCount(record.reportedRunning, own);
  };

  const checkLiveness = (): void => {
    for (const verdict of judge(holdInForce())) {
      switch (verdict.kind) {
        case "forget":
          workers.forget(verdict.workerId);
          break;
        case "dead":
          declareDead(verdict.worker, verdict.reason);
          break;
        case "timed_out":
          parts.apply(lifecycle.timeOut(parts.lifecycle(), verdict.task, verdict.timeoutMs));
          break;
        default: {
          const unknown: never = verdict;
          throw new Error(`unknown verdict ${JSON.stringify(unknown)}`);
        }
      }
    }
  };

  return {
    register(message) {
      const spec = message.worker;
      if (!spec) throw invalidArgument("register.worker", "is required");
      if (spec.slots < 1 || spec.slots > 1024)
        throw invalidArgument("register.worker.slots", `${spec.slots} must be 1..1024`);
      if (spec.workerId === "") spec.workerId = `worker-${randomUUID().slice(0, 8)}`;
      if (!WORKER_ID_PATTERN.test(spec.workerId))
        throw invalidArgument(
          "register.worker.worker_id",
          "must be 1..128 characters of letters, digits and . _ : -",
        );
      const previous = workers.get(spec.workerId);
      previous?.session?.outbound.close();
      const session: WorkerSessionHandle = {
        workerId: spec.workerId,
        epoch: (previous?.epoch ?? 0n) + 1n,
        outbound: createAsyncQueue(),
      };
      const record = registeredWorker(
        spec,
        session,
        previous,
        { wallMs: parts.now(), monotonicMs: parts.monotonicNow() },
        settings.reconnectGraceMs,
      );
      workers.set(record);
      // A task the ledger has on this worker that the worker no longer runs was
      // lost with the old stream (an assignment sent into a dying connection, or
      // a worker that restarted): it goes back for another attempt.
      const stillRunning = new Set(message.runningTaskIds);
      record.reportedRunning = stillRunning;
      let kept = 0;
      for (const task of ledger.unfinishedOn(spec.workerId)) {
        if (stillRunning.has(task.task.spec?.taskId ?? "")) kept += 1;
        else loseAttempt(task, `worker ${spec.workerId} came back without it`);
      }
      // What it runs beyond those was given to others meanwhile: its slots are busy until they end.
      record.staleRunning = Math.max(0, stillRunning.size - kept);
      const isReconnect = previous !== undefined && previous.state !== WorkerState.DEAD;
      logger.info(
        {
          workerId: spec.workerId,
          epoch: Number(session.epoch),
          slots: spec.slots,
          kept,
          reconnect: isReconnect,
        },
        "worker registered",
      );
      watch.changed(spec.workerId);
      parts.requestSchedule();
      const registered = {
        workerId: spec.workerId,
        heartbeatInterval: durationFromMs(settings.heartbeatIntervalMs),
        heartbeatTimeout: durationFromMs(settings.heartbeatTimeoutMs),
        sessionEpoch: session.epoch,
      } as Registered;
      return { session, registered };
    },

    heartbeat(session, message) {
      const record = workers.current(session);
      if (!record) return;
      pauseHold.check(clocks(), holdCounts);
      const now = parts.now();
      coordinatorCounters.heartbeatLagSeconds.observe(
        Math.max(0, now - record.lastHeartbeatMs - settings.heartbeatIntervalMs) / 1000,
      );
      record.lastHeartbeatMs = now;
      record.lastHeardMonotonicMs = parts.monotonicNow();
      if (message.unchanged) {
        // The lease is renewed and nothing else: it runs what it last
        // reported, and no balancer needs telling. An idle worker costs this much.
        if (record.reportedRunning.size > 0 || ledger.unfinishedCount(session.workerId) > 0)
          settleReported(record, now);
        return;
      }
      record.cpuUtilization = message.cpuUtilization;
      record.memoryRssBytes = message.memoryRssBytes;
      record.reportedRunning = new Set(message.runningTaskIds);
      if (message.draining && record.state === WorkerState.ALIVE) {
        record.state = WorkerState.DRAINING;
        logger.info(
          { workerId: session.workerId, running: ledger.unfinishedCount(session.workerId) },
          "worker draining",
        );
      }
      settleReported(record, now);
      closeIfDrained(parts, record, { afterCommit: false });
      watch.changed(session.workerId);
    },

    sessionEnded(session) {
      const record = workers.current(session);
      if (!record) return;
      record.session = undefined;
      record.streamLostAtMs = parts.now();
      if (record.state === WorkerState.DRAINING && ledger.unfinishedCount(session.workerId) === 0) {
        declareDead(record, "left after draining");
        return;
      }
      record.state = WorkerState.SUSPECT;
      record.graceMs = settings.reconnectGraceMs;
      logger.warn(
        { workerId: session.workerId, graceMs: record.graceMs },
        "worker stream lost; waiting for it to reconnect",
      );
      watch.changed(session.workerId);
    },

    checkLiveness,

    tickLiveness() {
      pauseHold.tick(clocks(), holdCounts);
      checkLiveness();
    },
  };
}

/** How many of the attempts a worker reports running are not its own in the ledger. */
function staleCount(running: ReadonlySet<string>, own: Iterable<TaskRecord>): number {
  if (running.size === 0) return 0;
  const ownIds = new Set<string>();
  for (const task of own) ownIds.add(task.task.spec?.taskId ?? "");
  let stale = 0;
  for (const id of running) if (!ownIds.has(id)) stale += 1;
  return stale;
}
