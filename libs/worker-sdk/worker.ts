// A worker's life: hold a session with the coordinator, run what it assigns
// within the slots (and stop what it cancels), report, and reconnect with
// backoff when the stream breaks (same worker id). Every result stays in the
// outbox until the coordinator acks it, and the unacknowledged ones go out
// first after registering again. drain() finishes what runs, waits for the
// acks and leaves; stop() leaves now.
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { backoffDelayMs, type BackoffPolicy } from "../backoff/index.js";
import { Coordinator } from "../contracts/index.js";
import { createRpcClient, type ClientOptions, type RpcClient } from "../rpc/client.js";
import { waitBeforeReconnect } from "../rpc/reconnect-wait.js";
import { SCALEMESH_VERSION } from "../telemetry/version.js";
import { resolveCoordinatorTarget } from "./coordinator-endpoints.js";
import { createHeartbeatNews, type WorkerLoad } from "./heartbeat-news.js";
import { createProcessLoadSampler } from "./process-load.js";
import { createResultOutbox } from "./result-outbox.js";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  openSession,
  type Session,
  type SessionEnd,
} from "./session.js";
import {
  heartbeatMessage,
  registerMessage,
  resultOf,
  type SessionRequest,
} from "./session-messages.js";
import type { TaskHandler } from "./task.js";
import { createTaskRunner, type TaskReport } from "./task-runner.js";
import { generateWorkerId } from "./worker-id.js";

export interface WorkerOptions {
  /** A discovery URI (static://h1:7070,h2:7070) or a list of host:port. */
  readonly coordinator: string | readonly string[];
  /** Stable across restarts when given; otherwise generated once, when the worker is created. */
  readonly workerId?: string;
  /** Prefix of a generated worker id (`${prefix}-${hostname}-${random}`). */
  readonly workerIdPrefix?: string;
  /** host:port of the agent's HTTP port (health, metrics), reported to the coordinator. */
  readonly address?: string;
  /** Tasks run at once; an assignment beyond them is refused with "no free slot". */
  readonly slots: number;
  readonly region?: string;
  readonly zone?: string;
  readonly capabilities?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly handler: TaskHandler;
  /** Time limit of a task whose spec sets none. */
  readonly defaultTaskTimeoutMs: number;
  /** Delay between reconnects: doubles from initialMs up to maxMs, full jitter. */
  readonly reconnect?: BackoffPolicy;
  /** Channel options; defaultDeadlineMs also bounds the wait for Registered. */
  readonly rpc?: ClientOptions;
  readonly logger: Logger;
  /** A join token ("scalemesh token create"), for a coordinator that asks for one; sent as a bearer token. */
  readonly joinToken?: string;
  /** Reported in the worker spec; the scalemesh version by default. */
  readonly version?: string;
  /** [0, 1) like Math.random; injected by tests for the reconnect jitter. */
  readonly random?: () => number;
  readonly onRegistered?: (event: RegisteredEvent) => void;
  readonly onTaskFinished?: (report: TaskReport) => void;
  /**
   * The coordinator asked this worker to drain (an operator's DrainWorker).
   * The agent turns it into its SIGTERM path (drain, then exit 0); without a
   * callback the worker drains itself and stays stopped.
   */
  readonly onDrainRequested?: (reason: string) => void;
}

export interface RegisteredEvent {
  readonly workerId: string;
  readonly coordinator: string;
  readonly sessionEpoch: bigint;
  readonly heartbeatIntervalMs: number;
}

export interface DrainOptions {
  /** How long to keep trying to get every result acknowledged once every task finished. */
  readonly flushTimeoutMs?: number;
}

export interface Worker {
  readonly workerId: string;
  /** Registered on a live session with the coordinator. */
  readonly isConnected: boolean;
  readonly isDraining: boolean;
  readonly runningCount: number;
  /** Results sent (or waiting to be) that the coordinator has not acknowledged yet. */
  readonly unacknowledgedResultCount: number;
  start(): void;
  /** Takes nothing new, finishes what runs, reports it, waits for the acks, closes the session; resolves when done. */
  drain(options?: DrainOptions): Promise<void>;
  /** Aborts running tasks and closes the session now. */
  stop(): Promise<void>;
}

const DEFAULT_RECONNECT: BackoffPolicy = { initialMs: 200, maxMs: 5000 };
const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The result outbox may always hold this much output, however few the slots. */
const MIN_OUTBOX_BYTES = 64 * 1024 * 1024;
/** Room left in a message for everything in a TaskResult but the output. */
const RESULT_OVERHEAD_BYTES = 64 * 1024;

/**
 * The largest output a task may return when messages are limited to
 * maxMessageBytes: a larger one would make grpc-js fail the whole session
 * (and again after every reconnect), so it fails just that task instead.
 */
export function outputLimitBytes(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): number {
  return Math.max(1024, maxMessageBytes - RESULT_OVERHEAD_BYTES);
}

export function createWorker(options: WorkerOptions): Worker {
  const resolved = resolveCoordinatorTarget(options.coordinator);
  if (!resolved.ok) throw new Error(`coordinator: ${resolved.error}`);
  if (!Number.isInteger(options.slots) || options.slots < 1)
    throw new Error(`slots: must be an integer >= 1, got ${options.slots}`);
  const coordinatorTarget = resolved.target;
  const workerId = options.workerId || generateWorkerId({ prefix: options.workerIdPrefix });
  const log = options.logger.child({ workerId });
  const reconnect = options.reconnect ?? DEFAULT_RECONNECT;
  const random = options.random ?? Math.random;
  const load = createProcessLoadSampler();
  const outbox = createResultOutbox({
    maxResults: Math.max(1024, options.slots * 4),
    // Room for every slot's largest output (what piles up while disconnected),
    // and a cap on what a coordinator that never acks leaves behind.
    maxBytes: Math.max(
      MIN_OUTBOX_BYTES,
      options.slots * outputLimitBytes(options.rpc?.maxMessageBytes),
    ),
    logger: log,
  });
  // One channel for every session: it follows the coordinator's discovery
  // URI and fails over between the endpoints it lists by itself.
  let client: RpcClient<typeof Coordinator> | undefined;
  const stopController = new AbortController();
  const changeListeners = new Set<() => void>();
  let current: Session | undefined;
  let loopDone: Promise<void> | undefined;
  let draining: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let isStopped = false;

  const notifyChange = (): void => {
    for (const listener of [...changeListeners]) listener();
  };

  /** Resolves true once `predicate` holds, false after timeoutMs. Re-checked on every state change. */
  const waitUntil = (predicate: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!predicate()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        changeListeners.delete(check);
        resolve(value);
      };
      changeListeners.add(check);
      check();
    });

  /** Sends on the live session, if one is registered. */
  const sendNow = (message: SessionRequest): void => {
    if (!current?.isRegistered) return;
    current.send(message);
    outbox.markSent(message);
  };

  const send = (message: SessionRequest): void => {
    // Updates and heartbeats only mean something on a live session; a result
    // waits in the outbox for the next one and stays there until acked.
    if (resultOf(message)) outbox.add(message);
    sendNow(message);
    notifyChange();
  };

  const runner = createTaskRunner({
    slots: options.slots,
    handler: options.handler,
    defaultTimeoutMs: options.defaultTaskTimeoutMs,
    maxOutputBytes: outputLimitBytes(options.rpc?.maxMessageBytes),
    logger: log,
    send,
    onTaskFinished: options.onTaskFinished,
  });

  const workerSpec = {
    workerId,
    address: options.address ?? "",
    region: options.region ?? "",
    zone: options.zone ?? "",
    capabilities: [...(options.capabilities ?? [])],
    labels: { ...(options.labels ?? {}) },
    slots: options.slots,
    version: options.version ?? SCALEMESH_VERSION,
  };

  const currentLoad = (): WorkerLoad => ({
    ...load.sample(),
    runningTaskIds: runner.runningTaskIds(),
    freeSlots: runner.freeSlots,
    draining: !runner.isTakingTasks,
  });

  const coordinatorClient = (): RpcClient<typeof Coordinator> => {
    client ??= createRpcClient(Coordinator, coordinatorTarget, { ...options.rpc, logger: log });
    return client;
  };

  const runSession = async (): Promise<SessionEnd> => {
    // Tasks whose results wait in the outbox are still ours: listing them
    // keeps the coordinator from handing them to another worker before the
    // results arrive right after Registered.
    const runningTaskIds = [...new Set([...runner.runningTaskIds(), ...outbox.taskIds()])];
    const news = createHeartbeatNews();
    const session: Session = openSession({
      client: coordinatorClient(),
      register: registerMessage({ worker: workerSpec, runningTaskIds }),
      registerTimeoutMs: options.rpc?.defaultDeadlineMs ?? 10_000,
      ...(options.joinToken ? { headers: { authorization: `Bearer ${options.joinToken}` } } : {}),
      logger: log.child({ coordinator: coordinatorTarget }),
      heartbeat: (isForced) => heartbeatMessage(news.next(currentLoad(), isForced)),
      onRegistered: (registered) => {
        // Before anything else on this session: the results the coordinator may not have stored.
        const resent = outbox.unacknowledged();
        for (const message of resent) sendNow(message);
        const heartbeatIntervalMs = registered.heartbeatInterval
          ? durationMs(registered.heartbeatInterval)
          : DEFAULT_HEARTBEAT_INTERVAL_MS;
        if (registered.workerId && registered.workerId !== workerId) {
          log.warn(
            { coordinatorWorkerId: registered.workerId },
            "the coordinator answered with another worker id; keeping ours",
          );
        }
        log.info(
          {
            coordinator: coordinatorTarget,
            address: workerSpec.address,
            sessionEpoch: registered.sessionEpoch.toString(),
            heartbeatIntervalMs,
            running: runner.runningCount,
            resentResults: resent.length,
          },
          "worker registered",
        );
        options.onRegistered?.({
          workerId,
          coordinator: coordinatorTarget,
          sessionEpoch: registered.sessionEpoch,
          heartbeatIntervalMs,
        });
        notifyChange();
      },
      onAssignment: (assignment) => runner.accept(assignment),
      onCancellation: ({ taskId, attempt, reason }) => {
        runner.cancel(taskId, attempt, reason);
      },
      onDrain: (reason) => {
        log.info({ reason }, "the coordinator asked this worker to drain");
        if (options.onDrainRequested) options.onDrainRequested(reason);
        else void drain().catch((error: unknown) => log.error({ err: error }, "drain failed"));
      },
      onResultAck: ({ taskId, attempt }) => {
        if (!outbox.acknowledge(taskId, attempt))
          log.debug(
            { taskId, attempt },
            "ack for a result not held here (acked before, or dropped); ignored",
          );
        notifyChange();
      },
    });
    current = session;
    const end = await session.ended;
    current = undefined;
    notifyChange();
    return end;
  };

  const hasNothingToReport = (): boolean => runner.runningCount === 0 && outbox.size === 0;

  const connectLoop = async (): Promise<void> => {
    let failures = 0;
    while (!isStopped && !(draining && hasNothingToReport())) {
      const end = await runSession();
      if (isStopped || end.isClosedByWorker) return;
      // A session that registered proves the coordinator works: start the backoff over.
      if (end.wasRegistered) failures = 0;
      failures += 1;
      const delayMs = backoffDelayMs(reconnect, failures, random);
      log.warn(
        { coordinator: coordinatorTarget, error: end.error, delayMs, failures },
        "session with the coordinator ended; reconnecting",
      );
      // Ends early when discovery lists a coordinator again: joining should not sit out a backoff.
      await waitBeforeReconnect(coordinatorClient(), delayMs, stopController.signal);
    }
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      isStopped = true;
      runner.abortAll("worker stopping");
      stopController.abort();
      current?.end("worker stopping");
      await loopDone;
      client?.close();
      client = undefined;
      if (outbox.size > 0)
        log.error(
          { unacknowledged: outbox.taskIds() },
          "stopped with results the coordinator never acknowledged",
        );
      notifyChange();
    })();
    return stopping;
  };

  const drain = (drainOptions: DrainOptions = {}): Promise<void> => {
    const flushTimeoutMs = drainOptions.flushTimeoutMs ?? 10_000;
    draining ??= (async () => {
      runner.stopTakingTasks();
      log.info(
        { running: runner.runningCount },
        "draining: taking no new tasks, finishing the running ones",
      );
      // draining (free_slots 0) right away, so nothing more is placed here.
      current?.heartbeatNow();
      await runner.whenIdle();
      // Written is not enough: a result the coordinator has not stored yet
      // would be lost with this process, so wait for its ack.
      const isFlushed = await waitUntil(() => outbox.size === 0 || isStopped, flushTimeoutMs);
      if (!isFlushed)
        log.warn(
          { unacknowledged: outbox.taskIds(), flushTimeoutMs },
          "not every result was acknowledged before the drain timeout",
        );
      const session = current;
      if (session?.isRegistered) {
        // A last heartbeat says "draining, nothing running": the coordinator
        // then lets the worker leave instead of waiting for it to come back.
        session.heartbeatNow();
        session.close();
        const closeTimer = setTimeout(
          () => session.end("the coordinator did not end the session after drain"),
          flushTimeoutMs,
        );
        await session.ended;
        clearTimeout(closeTimer);
      }
      log.info("drained");
      await stop();
    })();
    return draining;
  };

  return {
    workerId,
    get isConnected() {
      return current?.isRegistered ?? false;
    },
    get isDraining() {
      return draining !== undefined;
    },
    get runningCount() {
      return runner.runningCount;
    },
    get unacknowledgedResultCount() {
      return outbox.size;
    },
    start() {
      if (loopDone || isStopped) return;
      log.info({ coordinator: coordinatorTarget, slots: options.slots }, "worker starting");
      loopDone = connectLoop().catch((error: unknown) =>
        log.error({ err: error }, "worker session loop failed"),
      );
    },
    drain,
    stop,
  };
}
