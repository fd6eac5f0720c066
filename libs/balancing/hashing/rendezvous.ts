// Rendezvous (highest-random-weight) hashing, Thaler and Ravishankar 1998:
// every worker gets score = hash(key, workerId) and the key's order is the
// workers by falling score. A worker's place depends only on its own id, so
// removing one moves only the keys it was first for, and adding one takes
// about 1/(n+1) of the keys, every one of them from some other worker to it.
import { hash64, hashPairSortable53, type Hash64 } from "./hash.js";

// Worker ids repeat on every placement; hash each once. The memo only
// caches a pure function, and is dropped when it grows past any real fleet.
const WORKER_HASH_MEMO_LIMIT = 4096;
const workerHashes = new Map<string, Hash64>();

function workerHash(workerId: string): Hash64 {
  let hash = workerHashes.get(workerId);
  if (hash === undefined) {
    if (workerHashes.size >= WORKER_HASH_MEMO_LIMIT) workerHashes.clear();
    hash = hash64(workerId);
    workerHashes.set(workerId, hash);
  }
  return hash;
}

/** hash(key, workerId) as a sortable number: higher ranks first. */
export function rendezvousScore(key: string, workerId: string): number {
  return hashPairSortable53(hash64(key), workerHash(workerId));
}

/**
 * Worker ids (distinct) in the key's rendezvous order, best first. The order depends on
 * the set of ids only, never on their order in the list (equal scores, which
 * need a 53-bit collision, fall back to the ids' own order).
 */
export function rendezvousOrder(key: string, workerIds: readonly string[]): string[] {
  const keyHash = hash64(key);
  return workerIds
    .map((workerId) => ({ workerId, score: hashPairSortable53(keyHash, workerHash(workerId)) }))
    .sort(
      (a, b) =>
        b.score - a.score || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0),
    )
    .map(({ workerId }) => workerId);
}
