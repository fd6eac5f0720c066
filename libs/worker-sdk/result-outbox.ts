// Results the coordinator has not acknowledged yet. A result stays here from
// the moment its task finishes until a ResultAck for its task id and attempt
// arrives (the coordinator acks once the result is durable in its ledger), and
// goes out again after every re-register, so a result written to a stream
// that broke before the coordinator stored it is not lost.
//
// The outbox is bounded: past maxResults, or past maxBytes of outputs, the
// oldest result is dropped (the newest is always kept). The coordinator gives
// a task whose result never came to another worker, so a dropped result costs
// a retry, not a lost task. A coordinator that never acks
// (one older than ResultAck) keeps the outbox full of results it did receive;
// dropping those is expected, so it is logged once as a warning and then at
// debug, while dropping one that never went out is always an error.
import type { Logger } from "pino";
import type { TaskResult } from "../contracts/index.js";
import { resultOf, type SessionRequest } from "./session-messages.js";

export interface ResultOutbox {
  /** Holds the result until acknowledged; a newer result of the same attempt replaces it. Past the bounds the oldest is dropped. */
  add(message: SessionRequest): void;
  /** Notes that the result went out on a session. */
  markSent(message: SessionRequest): void;
  /** Forgets the result of this attempt; false when none is held. */
  acknowledge(taskId: string, attempt: number): boolean;
  /** Every held result, oldest first. */
  unacknowledged(): SessionRequest[];
  /** The task id of every held result, oldest first. */
  taskIds(): string[];
  readonly size: number;
}

export interface ResultOutboxOptions {
  readonly maxResults: number;
  /** Bounds the sum of resultBytes() over the held results. */
  readonly maxBytes: number;
  readonly logger: Logger;
}

interface HeldResult {
  readonly message: SessionRequest;
  readonly taskId: string;
  readonly bytes: number;
  isSent: boolean;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;

/** Roughly what a result holds in memory: its output and error. */
export function resultBytes(result: TaskResult): number {
  return result.output.byteLength + result.error.length;
}

export function createResultOutbox(options: ResultOutboxOptions): ResultOutbox {
  // A Map keeps insertion order: the first entry is the oldest result.
  const held = new Map<string, HeldResult>();
  let heldBytes = 0;
  let hasWarnedOfUnackedDrop = false;

  const forget = (key: string): boolean => {
    const result = held.get(key);
    if (!result) return false;
    held.delete(key);
    heldBytes -= result.bytes;
    return true;
  };

  const isOverBounds = (): boolean =>
    held.size > options.maxResults || (held.size > 1 && heldBytes > options.maxBytes);

  const dropOldest = (): void => {
    const oldest = held.entries().next();
    if (oldest.done) return;
    const [key, result] = oldest.value;
    forget(key);
    const fields = {
      taskId: result.taskId,
      maxResults: options.maxResults,
      maxBytes: options.maxBytes,
      heldBytes,
    };
    if (!result.isSent) {
      options.logger.error(
        fields,
        "result outbox full; dropped the oldest result before it was ever sent (the coordinator will retry the task)",
      );
    } else if (!hasWarnedOfUnackedDrop) {
      hasWarnedOfUnackedDrop = true;
      options.logger.warn(
        fields,
        "result outbox full of results the coordinator never acknowledged (an older coordinator does not ack); dropping the oldest from now on",
      );
    } else {
      options.logger.debug(fields, "result outbox full; dropped the oldest unacknowledged result");
    }
  };

  return {
    add(message) {
      const result = resultOf(message);
      if (!result) return;
      const key = keyOf(result.taskId, result.attempt);
      forget(key);
      const bytes = resultBytes(result);
      held.set(key, { message, taskId: result.taskId, bytes, isSent: false });
      heldBytes += bytes;
      while (isOverBounds()) dropOldest();
    },
    markSent(message) {
      const result = resultOf(message);
      const entry = result ? held.get(keyOf(result.taskId, result.attempt)) : undefined;
      if (entry?.message === message) entry.isSent = true;
    },
    acknowledge: (taskId, attempt) => forget(keyOf(taskId, attempt)),
    unacknowledged: () => [...held.values()].map((result) => result.message),
    taskIds: () => [...held.values()].map((result) => result.taskId),
    get size() {
      return held.size;
    },
  };
}
