// One WorkerSession stream: Register first, wait for Registered, heartbeat at
// the interval it names, hand assignments, cancellations and result acks
// over. The session ends when the stream does; the worker decides whether to
// open another. It keeps no results of its own: the worker's outbox holds
// each one until the coordinator acks it, whichever session carried it.
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import type {
  Assignment,
  Coordinator,
  Registered,
  ResultAck,
  TaskCancellation,
} from "../contracts/index.js";
import { createAsyncQueue } from "../rpc/async-queue.js";
import type { RpcClient } from "../rpc/client.js";
import { messageOf } from "./execute-task.js";
import type { SessionRequest } from "./session-messages.js";

/** Used when Registered names no heartbeat interval. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

/**
 * How long end() waits for the coordinator to finish the stream after the
 * worker half-closed it, before cancelling the call. Half-closing first is
 * deliberate: cancelling a stream through libs/rpc's client makes grpc-js
 * emit an 'error' event after the reader stopped listening (an uncaught
 * exception), so cancel is kept for a coordinator that does not answer.
 */
export const END_GRACE_MS = 1000;

/**
 * A stream that stopped taking writes (backpressure) would otherwise queue a
 * heartbeat every interval forever; past this backlog heartbeats are skipped
 * (the coordinator's heartbeat timeout says the rest).
 */
const MAX_QUEUED_MESSAGES_FOR_HEARTBEAT = 64;

export interface SessionOptions {
  readonly client: RpcClient<typeof Coordinator>;
  readonly register: SessionRequest;
  /** How long to wait for Registered before giving up on this stream. */
  readonly registerTimeoutMs: number;
  readonly logger: Logger;
  /** The heartbeat to send; `isForced` (heartbeatNow) asks for the full load. */
  readonly heartbeat: (isForced: boolean) => SessionRequest;
  /** Runs when Registered arrives; what it sends goes out before anything else. */
  readonly onRegistered: (registered: Registered) => void;
  readonly onAssignment: (assignment: Assignment) => void;
  readonly onCancellation: (cancellation: TaskCancellation) => void;
  readonly onResultAck: (ack: ResultAck) => void;
  /** An operator drains this worker (Admin DrainWorker). */
  readonly onDrain: (reason: string) => void;
  /** Sent with the stream: `authorization` carries the join token. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface SessionEnd {
  readonly wasRegistered: boolean;
  /** The worker half-closed the stream (drain) and the coordinator ended it. */
  readonly isClosedByWorker: boolean;
  /** Why the session ended, unless the worker closed it. */
  readonly error?: string;
}

export interface Session {
  readonly isRegistered: boolean;
  readonly ended: Promise<SessionEnd>;
  send(message: SessionRequest): void;
  heartbeatNow(): void;
  /** Drain: half-closes the stream once what was sent is written; the coordinator then ends it. */
  close(): void;
  /** Ends the session for `reason`: half-close, then cancel if the coordinator has not ended it within END_GRACE_MS. */
  end(reason: string): void;
}

export function openSession(options: SessionOptions): Session {
  const queue = createAsyncQueue<SessionRequest>();
  const abort = new AbortController();
  let isOver = false;
  let isRegistered = false;
  let isClosedByWorker = false;
  let cancelReason: string | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let cancelTimer: NodeJS.Timeout | undefined;

  async function* outgoing(): AsyncGenerator<SessionRequest> {
    for await (const message of queue) {
      if (isOver) return;
      yield message;
    }
  }

  // A message sent after the stream closed is dropped: results are kept by
  // the worker's outbox until acked, and nothing else outlives its session.
  const send = (message: SessionRequest): void => {
    if (!isOver) queue.push(message);
  };

  const end = (reason: string): void => {
    cancelReason ??= reason;
    clearInterval(heartbeatTimer);
    queue.close();
    cancelTimer ??= setTimeout(() => abort.abort(new Error(reason)), END_GRACE_MS);
  };

  const registerTimer = setTimeout(
    () => end(`no Registered from the coordinator within ${options.registerTimeoutMs} ms`),
    options.registerTimeoutMs,
  );

  const onRegistered = (registered: Registered): void => {
    clearTimeout(registerTimer);
    isRegistered = true;
    const intervalMs = registered.heartbeatInterval ? durationMs(registered.heartbeatInterval) : 0;
    clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(
      () => {
        if (queue.size < MAX_QUEUED_MESSAGES_FOR_HEARTBEAT) send(options.heartbeat(false));
      },
      Math.max(10, intervalMs > 0 ? intervalMs : DEFAULT_HEARTBEAT_INTERVAL_MS),
    );
    options.onRegistered(registered);
  };

  const receive = async (): Promise<SessionEnd> => {
    try {
      send(options.register);
      for await (const response of options.client.workerSession(outgoing(), {
        signal: abort.signal,
        ...(options.headers ? { headers: { ...options.headers } } : {}),
      })) {
        const message = response.message;
        switch (message.case) {
          case "registered":
            onRegistered(message.value);
            break;
          case "assignment":
            options.onAssignment(message.value);
            break;
          case "cancellation":
            options.onCancellation(message.value);
            break;
          case "resultAck":
            options.onResultAck(message.value);
            break;
          case "drain":
            options.onDrain(message.value.reason);
            break;
          case undefined:
            break;
          default: {
            const unhandled: never = message;
            options.logger.warn(
              { message: unhandled },
              "unknown message from the coordinator; ignored",
            );
          }
        }
      }
      if (isClosedByWorker && cancelReason === undefined)
        return { wasRegistered: isRegistered, isClosedByWorker };
      return {
        wasRegistered: isRegistered,
        isClosedByWorker,
        error: cancelReason ?? "the coordinator ended the session",
      };
    } catch (error) {
      return {
        wasRegistered: isRegistered,
        isClosedByWorker: false,
        error: cancelReason ?? messageOf(error),
      };
    } finally {
      isOver = true;
      isRegistered = false;
      clearTimeout(registerTimer);
      clearTimeout(cancelTimer);
      clearInterval(heartbeatTimer);
      queue.close();
    }
  };
  const ended = receive();

  return {
    get isRegistered() {
      return isRegistered;
    },
    ended,
    send,
    heartbeatNow: () => {
      if (isRegistered) send(options.heartbeat(true));
    },
    close() {
      isClosedByWorker = true;
      clearInterval(heartbeatTimer);
      queue.close();
    },
    end,
  };
}
