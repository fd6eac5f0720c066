// Results that could not be sent because the session was down. They go out
// first after the worker registers again. Its size is naturally bounded (no
// assignment arrives while disconnected, so at most the tasks that were
// running finish meanwhile); the cap guards memory anyway, dropping the
// oldest: the coordinator gives a task whose result never came to another
// worker, so a dropped result costs a retry, not a lost task.
import type { Logger } from "pino";
import { resultOf, type SessionRequest } from "./session-messages.js";

export interface ResultOutbox {
  push(message: SessionRequest): void;
  /** Everything buffered, oldest first; the outbox is empty afterwards. */
  takeAll(): SessionRequest[];
  taskIds(): string[];
  readonly size: number;
}

export function createResultOutbox(options: { readonly maxResults: number; readonly logger: Logger }): ResultOutbox {
  const buffered: SessionRequest[] = [];
  return {
    push(message) {
      buffered.push(message);
      while (buffered.length > options.maxResults) {
        const dropped = buffered.shift();
        const result = dropped ? resultOf(dropped) : undefined;
        options.logger.error({ taskId: result?.taskId, maxResults: options.maxResults }, "result buffer full while disconnected; dropped the oldest result");
      }
    },
    takeAll: () => buffered.splice(0),
    taskIds: () => buffered.flatMap((message) => resultOf(message)?.taskId ?? []),
    get size() {
      return buffered.length;
    },
  };
}
