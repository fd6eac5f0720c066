// Tasks waiting for a slot, in the order they should get one: higher
// priority first, then older first. Bounded: the coordinator refuses new work
// with RESOURCE_EXHAUSTED when it is full.
import type { TaskRecord } from "./task-ledger.js";

export interface PendingQueue {
  readonly size: number;
  readonly limit: number;
  readonly isFull: boolean;
  add(record: TaskRecord): void;
  remove(record: TaskRecord): void;
  /** Waiting tasks in placement order (a snapshot: safe to remove while walking it). */
  inOrder(): readonly TaskRecord[];
}

export function createPendingQueue(limit: number): PendingQueue {
  // Kept sorted; insertion is a binary search plus a splice, fine for the
  // bounded sizes this holds (max_pending_tasks, default 10,000).
  const queue: TaskRecord[] = [];
  const before = (a: TaskRecord, b: TaskRecord): boolean => {
    const pa = a.task.spec?.priority ?? 0;
    const pb = b.task.spec?.priority ?? 0;
    return pa !== pb ? pa > pb : a.sequence < b.sequence;
  };
  const indexOf = (record: TaskRecord): number => {
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(queue[mid] as TaskRecord, record)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    get size() {
      return queue.length;
    },
    limit,
    get isFull() {
      return queue.length >= limit;
    },
    add(record) {
      const at = indexOf(record);
      if (queue[at] !== record) queue.splice(at, 0, record);
    },
    remove(record) {
      const at = indexOf(record);
      if (queue[at] === record) queue.splice(at, 1);
    },
    inOrder: () => [...queue],
  };
}
