// Orderings shared by the strategies: by id (the same on every replica) and
// by a score with random tie-breaks (so equal workers share the load instead
// of the first in the list taking everything).
import type { RandomSource, RankedCandidate, WorkerCandidate } from "../types.js";

export function compareWorkerIds(a: WorkerCandidate, b: WorkerCandidate): number {
  return a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0;
}

/** Share of the worker's slots that are free, 0..1. */
export function freeShare(worker: WorkerCandidate): number {
  return worker.slots <= 0 ? 0 : Math.max(0, 1 - worker.inFlight / worker.slots);
}

/** Highest score first; equal scores in random order. */
export function rankByScore(
  workers: readonly WorkerCandidate[],
  scoreOf: (worker: WorkerCandidate) => number,
  random: RandomSource,
  note?: (worker: WorkerCandidate) => string | undefined,
): RankedCandidate[] {
  return [...workers]
    .sort(compareWorkerIds)
    .map((worker) => ({ worker, score: scoreOf(worker), tieBreak: random() }))
    .sort((a, b) => b.score - a.score || a.tieBreak - b.tieBreak)
    .map(({ worker, score }) => withNote({ worker, score }, note?.(worker)));
}

export function withNote(candidate: RankedCandidate, note: string | undefined): RankedCandidate {
  return note === undefined ? candidate : { ...candidate, note };
}

/** A uniform index in [0, n), safe against a source that returns exactly 1. */
export function randomIndex(random: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}
