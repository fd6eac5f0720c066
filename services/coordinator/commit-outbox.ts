// "Written before anyone is told": transitions are saved to the store as
// they happen, and whatever would tell someone about them (an assignment to a
// worker, a result ack, a waiting AwaitTask, an RPC response) is queued here
// and delivered only after the group commit that contains them succeeds.
// One flush per event-loop turn, so a burst of transitions costs one commit.
import type { Logger } from "pino";
import type { TaskStore } from "../../libs/ledger/task-store.js";
import { unavailable } from "../../libs/rpc/index.js";

interface Delivery {
  readonly deliver: () => void;
  /** Called instead of `deliver` when the commit fails; without it the delivery waits for a later commit. */
  readonly onFailure: ((error: unknown) => void) | undefined;
}

export interface CommitOutbox {
  /** Runs `deliver` once everything saved so far is durable. */
  afterCommit(deliver: () => void, onFailure?: (error: unknown) => void): void;
  /** A promise for the same: resolves when durable, rejects when the commit fails. */
  committed(): Promise<void>;
  /** Commits now and waits (used on shutdown). */
  drain(): Promise<void>;
  readonly isHealthy: boolean;
  readonly lastError: string | undefined;
}

export function createCommitOutbox(
  store: TaskStore,
  logger: Logger,
  options: { retryMs?: number; onWritableAgain?: () => void } = {},
): CommitOutbox {
  const retryMs = options.retryMs ?? 1000;
  let queue: Delivery[] = [];
  let scheduled = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let lastError: string | undefined;

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };

  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    try {
      await store.commit();
      const wasFailing = lastError !== undefined;
      lastError = undefined;
      for (const item of batch) item.deliver();
      if (wasFailing) {
        logger.info("task ledger writable again");
        options.onWritableAgain?.();
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (lastError !== message)
        logger.error(
          { err: message },
          "task ledger write failed; refusing new tasks until it recovers",
        );
      lastError = message;
      const waiting: Delivery[] = [];
      for (const item of batch) {
        if (item.onFailure) item.onFailure(error);
        else waiting.push(item);
      }
      // Deliveries of transitions already made (results, retries) wait for the
      // store to recover: the failed rows stay queued in it.
      queue = [...waiting, ...queue];
      // Try again later even with nothing queued: a commit that succeeds is
      // how the outbox learns the store is writable again.
      if (!retryTimer) {
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          schedule();
        }, retryMs);
        retryTimer.unref();
      }
    }
  };

  return {
    afterCommit(deliver, onFailure) {
      queue.push({ deliver, onFailure });
      schedule();
    },
    committed() {
      return new Promise<void>((resolve, reject) => {
        queue.push({ deliver: resolve, onFailure: reject });
        schedule();
      });
    },
    async drain() {
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      await flush();
    },
    get isHealthy() {
      return lastError === undefined;
    },
    get lastError() {
      return lastError;
    },
  };
}

/** Waits for the commit; a ledger that cannot be written refuses the call (UNAVAILABLE, retryable), as nobody was told. */
export async function committedOrRefuse(outbox: CommitOutbox): Promise<void> {
  await outbox.committed().catch((error: unknown) => refuseUnwritable(error));
}

export function refuseUnwritable(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  throw unavailable(`the task ledger cannot be written, so no task is accepted: ${message}`);
}
