// The pending queue's scheduler: places waiting tasks, highest priority and
// oldest first, as slots free up; batched per event-loop turn, and woken by a
// timer when the earliest retry backoff ends. It decides where each waiting
// task goes through the same placement stack and the same translation of
// its constraints as every other path; the coordinator dispatches.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  placementRequestOf,
  type PlacementStack,
  type Ranking,
  type WorkerCandidate,
} from "../../libs/balancing/index.js";
import type { PendingQueue, TaskRecord } from "../../libs/ledger/index.js";

export interface SchedulerOptions {
  readonly pending: PendingQueue;
  readonly stack: PlacementStack;
  readonly candidates: () => WorkerCandidate[];
  readonly now: () => number;
  /** While false (the ledger cannot be written) nothing new is placed. */
  readonly canPlace: () => boolean;
  /** Carries out one choice; the ranking is committed by whoever learns the placement held. */
  readonly dispatch: (task: TaskRecord, ranking: Ranking, workerId: string) => void;
}

export interface Scheduler {
  /** Runs a pass on the next turn (many requests in one turn make one pass). */
  requestSchedule(): void;
  /** One pass now. */
  schedulePending(): void;
  /** Runs a pass when `atMs` comes, unless one is due earlier. */
  wakeAt(atMs: number): void;
  stop(): void;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { pending, stack } = options;
  let isQueued = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAtMs = Number.POSITIVE_INFINITY;

  const hasRoom = (candidates: readonly WorkerCandidate[]): boolean =>
    candidates.some((c) => c.condition === "alive" && c.inFlight < c.slots);

  const schedulePending = (): void => {
    if (!options.canPlace()) return;
    const now = options.now();
    let candidates = options.candidates();
    let earliestWaitMs = Number.POSITIVE_INFINITY;
    for (const task of pending.inOrder()) {
      if (!hasRoom(candidates)) break;
      const spec = task.task.spec;
      if (!spec) continue;
      const notBeforeMs = task.task.notBefore ? timestampMs(task.task.notBefore) : 0;
      if (notBeforeMs > now) {
        earliestWaitMs = Math.min(earliestWaitMs, notBeforeMs);
        continue;
      }
      const ranking = stack.rank(candidates, placementRequestOf(spec));
      const best = ranking.ranked[0];
      if (!best) continue;
      options.dispatch(task, ranking, best.worker.workerId);
      // The next task of this pass sees the slot taken.
      candidates = candidates.map((c) =>
        c.workerId === best.worker.workerId ? { ...c, inFlight: c.inFlight + 1 } : c,
      );
    }
    if (Number.isFinite(earliestWaitMs)) wakeAt(earliestWaitMs);
  };

  const wakeAt = (atMs: number): void => {
    if (atMs >= wakeAtMs && wakeTimer) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeAtMs = atMs;
    wakeTimer = setTimeout(
      () => {
        wakeTimer = undefined;
        wakeAtMs = Number.POSITIVE_INFINITY;
        schedulePending();
      },
      Math.max(0, atMs - options.now()),
    );
  };

  return {
    requestSchedule() {
      if (isQueued || pending.size === 0) return;
      isQueued = true;
      setImmediate(() => {
        isQueued = false;
        schedulePending();
      });
    },
    schedulePending,
    wakeAt,
    stop() {
      if (wakeTimer) clearTimeout(wakeTimer);
      wakeTimer = undefined;
    },
  };
}
