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

/**
 * Highest score first; equal scores in random order. With `limit`, only the
 * best `limit` of them, the same ones a full ranking would put first, found in
 * one pass instead of a sort of every worker. Random tie-breaks are drawn in id
 * order, so the same view and seed rank alike on every replica; a view kept in
 * id order makes that first sort a single pass too.
 */
export function rankByScore(
  workers: readonly WorkerCandidate[],
  scoreOf: (worker: WorkerCandidate) => number,
  random: RandomSource,
  note?: (worker: WorkerCandidate) => string | undefined,
  limit = Number.POSITIVE_INFINITY,
): RankedCandidate[] {
  const scored = [...workers]
    .sort(compareWorkerIds)
    .map((worker) => ({ worker, score: scoreOf(worker), tieBreak: random() }));
  const best = limit >= scored.length ? scored.sort(byScore) : bestOf(scored, limit);
  return best.map(({ worker, score }) => withNote({ worker, score }, note?.(worker)));
}

interface Scored {
  readonly worker: WorkerCandidate;
  readonly score: number;
  readonly tieBreak: number;
}

const byScore = (a: Scored, b: Scored): number => b.score - a.score || a.tieBreak - b.tieBreak;

/** The first `limit` of `scored` in byScore order, kept in a small sorted buffer. */
function bestOf(scored: readonly Scored[], limit: number): Scored[] {
  const top: Scored[] = [];
  if (limit < 1) return top;
  for (const entry of scored) {
    const last = top[top.length - 1];
    if (top.length === limit && last && byScore(entry, last) >= 0) continue;
    let at = top.length;
    while (at > 0 && byScore(entry, top[at - 1] as Scored) < 0) at -= 1;
    top.splice(at, 0, entry);
    if (top.length > limit) top.pop();
  }
  return top;
}

export function withNote(candidate: RankedCandidate, note: string | undefined): RankedCandidate {
  return note === undefined ? candidate : { ...candidate, note };
}

/** A uniform index in [0, n), safe against a source that returns exactly 1. */
export function randomIndex(random: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}
