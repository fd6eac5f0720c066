// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
// "Consistent Hashing with Bounded Loads", SODA 2018): no worker takes a
// task while it holds ⌈c · average⌉ or more (c ≥ 1), so a hot key cannot pile
// onto its home. The key's order (rendezvous or Maglev) says where it
// belongs; this file only decides what the bound does to that order.
//
// Where the overflow goes is the part we tuned. The paper walks to the next
// worker in the key's order that is under the bound (K = 1 here; HAProxy's
// hash-balance-factor does the same), so a hot key's overflow lands on one
// neighbour, pushes it to the bound, spills on to the next, and a quiet
// worker only sees overflow if it happens to sit right after a hot home.
// Here the overflow goes to the least loaded of the key's next K workers
// under the bound, ties to the earlier in key order. test/bench/hashing-sim.ts
// measured K from 1 to all: a larger K is better on every measure we track
// (more tasks at home, because overflow stops pushing neighbours over the
// bound; quieter workers fed) except one, how many workers a hot key's
// overflow touches. Only K ≥ 7 of 9 kept the quietest worker at 0.8 of the
// mean, so the default is every other worker; a smaller K keeps a key's
// overflow on fewer workers (warmer caches) at the price of starving some.
import type { RankedCandidate, WorkerCandidate } from "./contract.js";

export const DEFAULT_BALANCE_FACTOR = 1.25;
/** Every other worker: see the header. */
export const DEFAULT_OVERFLOW_CANDIDATES = Number.POSITIVE_INFINITY;

export interface BoundedLoadOptions {
  /** The paper's c: no worker above ⌈c · average in flight⌉. At least 1. */
  readonly c: number;
  /** K: how many of the key's next workers under the bound the overflow chooses among. At least 1; Infinity = all. */
  readonly overflowCandidates: number;
}

/** Fills in defaults and refuses values the rule cannot honour, naming the option. */
export function resolveBoundedLoadOptions(
  options: Partial<BoundedLoadOptions> = {},
): BoundedLoadOptions {
  const c = options.c ?? DEFAULT_BALANCE_FACTOR;
  const overflowCandidates = options.overflowCandidates ?? DEFAULT_OVERFLOW_CANDIDATES;
  // With c ≥ 1 some eligible worker is always under the bound (pigeonhole).
  if (!Number.isFinite(c) || c < 1) throw new RangeError(`c must be a number ≥ 1, got ${c}`);
  if (
    !(Number.isInteger(overflowCandidates) || overflowCandidates === Number.POSITIVE_INFINITY) ||
    overflowCandidates < 1
  ) {
    throw new RangeError(
      `overflowCandidates must be an integer ≥ 1 or Infinity, got ${overflowCandidates}`,
    );
  }
  return { c, overflowCandidates };
}

/**
 * The per-worker bound: ⌈c × (total in flight + 1) / n⌉ over the eligible
 * workers, the +1 being the task now placed (the paper counts the ball being
 * thrown). Never below 1, so an idle fleet still takes work.
 */
export function loadBound(
  c: number,
  eligible: readonly Pick<WorkerCandidate, "inFlight">[],
): number {
  if (eligible.length === 0) return 1;
  const totalInFlight = eligible.reduce((sum, worker) => sum + worker.inFlight, 0);
  return Math.max(1, Math.ceil((c * (totalInFlight + 1)) / eligible.length));
}

export interface BoundedLoadInput extends BoundedLoadOptions {
  /** Worker ids in the key's order, home first, over eligible ∪ feasible. */
  readonly keyOrder: readonly string[];
  readonly feasible: readonly WorkerCandidate[];
  /** Workers that pass every filter but free capacity: the bound's average is over these. */
  readonly eligible: readonly WorkerCandidate[];
  /** Appended to every note (for example, that the task id stood in for the key). */
  readonly noteSuffix?: string;
}

/**
 * Every feasible worker, best first: the home if it is under the bound;
 * otherwise the least loaded of the next K under the bound (ties to the
 * earlier in key order); then the other workers under the bound in key
 * order, then those at or above it in key order (a last resort that beats
 * refusing the task when only they have a free slot).
 */
export function rankWithBoundedLoads(input: BoundedLoadInput): RankedCandidate[] {
  const bound = loadBound(input.c, input.eligible.length > 0 ? input.eligible : input.feasible);
  const feasibleById = new Map<string, WorkerCandidate>();
  for (const worker of input.feasible) feasibleById.set(worker.workerId, worker);
  const suffix = input.noteSuffix ?? "";
  const homeId = input.keyOrder[0] ?? "";
  const home = feasibleById.get(homeId);

  // One pass in key order, splitting by side of the bound. When the home
  // cannot go first, the next K are the first K under the bound after it.
  const isHomeFirst = home !== undefined && home.inFlight < bound;
  const underBound: WorkerCandidate[] = [];
  const atOrAboveBound: WorkerCandidate[] = [];
  for (const id of input.keyOrder) {
    const worker = feasibleById.get(id);
    if (worker === undefined || (isHomeFirst && worker === home)) continue;
    (worker.inFlight < bound ? underBound : atOrAboveBound).push(worker);
  }
  let pick: WorkerCandidate | undefined;
  if (!isHomeFirst) {
    // Strictly less: ties stay with the earlier worker in key order.
    const candidates = Math.min(underBound.length, input.overflowCandidates);
    for (let i = 0; i < candidates; i += 1) {
      const worker = underBound[i]!;
      if (pick === undefined || worker.inFlight < pick.inFlight) pick = worker;
    }
  }

  const ranked: RankedCandidate[] = [];
  const total = underBound.length + atOrAboveBound.length + (isHomeFirst ? 1 : 0);
  const add = (worker: WorkerCandidate, note: string): void => {
    ranked.push({ worker, score: total - ranked.length, note });
  };
  if (isHomeFirst) add(home, `home${suffix}`);
  else if (pick !== undefined)
    add(
      pick,
      `overflow from ${homeId} (${home !== undefined ? `at bound ${bound}` : "no free slot"})${suffix}`,
    );
  const underNote = `under bound ${bound}, next in key order${suffix}`;
  for (const worker of underBound) if (worker !== pick) add(worker, underNote);
  const aboveNote = `at or above bound ${bound}${suffix}`;
  for (const worker of atOrAboveBound) add(worker, aboveNote);
  return ranked;
}
