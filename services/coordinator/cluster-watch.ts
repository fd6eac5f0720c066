// WatchCluster: a snapshot for each new watcher, then deltas. Changes to one
// worker are coalesced and flushed every few milliseconds, so a burst of
// placements costs one message per worker per flush, not one per task.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  WatchClusterResponseSchema,
  type WatchClusterResponse,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { createAsyncQueue, type AsyncQueue } from "../../libs/rpc/index.js";

export interface ClusterWatch {
  subscribe(): AsyncQueue<WatchClusterResponse>;
  unsubscribe(queue: AsyncQueue<WatchClusterResponse>): void;
  changed(workerId: string): void;
  removed(workerId: string, reason: string): void;
  readonly watchers: number;
  stop(): void;
}

export interface ClusterWatchOptions {
  readonly flushIntervalMs: number;
  /** Workers to show a new watcher, and the pending count. */
  readonly snapshot: () => { workers: WorkerStatus[]; pendingTasks: number };
  readonly statusOf: (workerId: string) => WorkerStatus | undefined;
}

export function createClusterWatch(options: ClusterWatchOptions): ClusterWatch {
  const watchers = new Set<AsyncQueue<WatchClusterResponse>>();
  const dirty = new Set<string>();
  let revision = 0n;
  let timer: NodeJS.Timeout | undefined;

  const broadcast = (event: MessageInitShape<typeof WatchClusterResponseSchema>["event"]): void => {
    revision += 1n;
    const message = create(WatchClusterResponseSchema, { revision, event });
    for (const watcher of watchers) watcher.push(message);
  };
  const flush = (): void => {
    timer = undefined;
    const ids = [...dirty];
    dirty.clear();
    for (const workerId of ids) {
      const worker = options.statusOf(workerId);
      if (worker) broadcast({ case: "workerChanged", value: { worker } });
    }
  };
  return {
    subscribe() {
      const queue = createAsyncQueue<WatchClusterResponse>();
      const { workers, pendingTasks } = options.snapshot();
      queue.push(
        create(WatchClusterResponseSchema, {
          revision,
          event: { case: "snapshot", value: { workers, pendingTasks } },
        }),
      );
      watchers.add(queue);
      return queue;
    },
    unsubscribe(queue) {
      watchers.delete(queue);
      queue.close();
    },
    changed(workerId) {
      if (watchers.size === 0) return;
      dirty.add(workerId);
      timer ??= setTimeout(flush, options.flushIntervalMs);
    },
    removed(workerId, reason) {
      dirty.delete(workerId);
      broadcast({ case: "workerRemoved", value: { workerId, reason } });
    },
    get watchers() {
      return watchers.size;
    },
    stop() {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      watchers.clear();
    },
  };
}
