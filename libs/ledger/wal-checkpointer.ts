// Checkpoints the ledger's WAL (copies it into the database file, so the WAL
// can start over) on a thread of its own, with its own connection. SQLite's
// automatic checkpoint runs inside a commit, on the event loop, and syncs the
// database file and the WAL: the profile showed it stalling the coordinator
// for 8-11 ms about once every 60 commits. The store turns the automatic one
// off, asks for one every so many rows, and writes nothing while it runs (a
// checkpoint that new frames overtake never completes, and the WAL would grow
// without end); the event loop goes on meanwhile.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointOutcome {
  /** Every frame of the WAL is in the database file: the next write starts the WAL over. */
  readonly isComplete: boolean;
  readonly walFrames: number;
}

export interface WalCheckpointer {
  /** One PASSIVE checkpoint on the thread; rejects with what SQLite said. */
  checkpoint(): Promise<CheckpointOutcome>;
  close(): void;
}

// CommonJS on purpose: the thread is started from a string, so it runs the
// same way from dist/ and from the TypeScript sources under vitest.
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma("synchronous = NORMAL");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    Atomics.store(workerData.closed, 0, 1);
    Atomics.notify(workerData.closed, 0);
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String((error && error.message) || error) });
  }
});
`;

type Reply =
  { ok: true; busy: number; log: number; checkpointed: number } | { ok: false; error: string };

const CLOSE_WAIT_MS = 5000;

export function startWalCheckpointer(path: string, busyTimeoutMs: number): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  // Set by the thread once its connection is closed: close() waits for it.
  const closed = new Int32Array(new SharedArrayBuffer(4));
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { path, busyTimeoutMs, driver, closed },
  });
  thread.unref();
  let waiting: { resolve: (o: CheckpointOutcome) => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined;
  const failAll = (error: Error): void => {
    failure = error;
    for (const waiter of waiting.splice(0)) waiter.reject(error);
  };
  thread.on("message", (reply: Reply) => {
    const waiter = waiting.shift();
    if (!waiter) return;
    if (reply.ok)
      waiter.resolve({
        isComplete: reply.busy === 0 && reply.checkpointed === reply.log,
        walFrames: reply.log,
      });
    else waiter.reject(new Error(reply.error));
  });
  thread.on("error", (error) => failAll(error));
  thread.on("exit", () => failAll(new Error("the WAL checkpoint thread has stopped")));
  return {
    checkpoint() {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        thread.postMessage("checkpoint");
      });
    },
    close() {
      if (failure) return;
      failure = new Error("the WAL checkpoint thread has stopped");
      thread.postMessage("close");
      waiting = [];
      // The thread's connection must be gone before the store's own closes:
      // the last connection to close is the one that folds the WAL into the
      // database and deletes it, and a thread still opening could create the
      // WAL again after the store said it was closed. A checkpoint in progress
      // is bounded (writes are paused meanwhile), so this wait is short.
      Atomics.wait(closed, 0, 0, CLOSE_WAIT_MS);
    },
  };
}
