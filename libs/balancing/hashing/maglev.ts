// Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016, section 3.4): a lookup table of prime
// size M in which every worker fills slots along its own permutation
// (offset + j·skip) mod M, taking turns, so each worker owns M/n slots give
// or take one. A key's home is table[hash(key) mod M]: one array read.
//
// Positions come from hashes of the worker's id, never from its place in a
// list; the table is built from the sorted id set, so every replica with the
// same set builds the same table. Maglev trades a little disruption for that
// balance: when the set changes, a few keys also move between workers that
// stayed (the paper measures this; the tests bound it).
//
// Beyond the home, the key's next candidates are the other workers in the
// key's rendezvous order, not further probes of the table: the ranking needs
// every worker anyway, rendezvous gives a full order in n hashes, and that
// order keeps its own minimal-disruption property, so a key's overflow
// targets stay put when unrelated workers come and go.
import { hash32, hash64 } from "./hash.js";
import { rendezvousOrder } from "./rendezvous.js";

/** A prime well above any fleet size (the paper suggests M ≫ 100·n). */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;

export interface MaglevTable {
  /** Sorted, distinct: entries index into this. */
  readonly workerIds: readonly string[];
  readonly size: number;
  readonly entries: Uint32Array;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d += 1) if (n % d === 0) return false;
  return true;
}

function sortedDistinct(workerIds: readonly string[]): string[] {
  return [...new Set(workerIds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The paper's populate loop, over the sorted distinct ids. */
export function buildMaglevTable(
  workerIds: readonly string[],
  size = DEFAULT_MAGLEV_TABLE_SIZE,
): MaglevTable {
  if (!isPrime(size)) throw new RangeError(`maglev table size must be a prime, got ${size}`);
  const ids = sortedDistinct(workerIds);
  if (ids.length > size)
    throw new RangeError(`maglev table size ${size} is smaller than the ${ids.length} workers`);
  const entries = new Uint32Array(size);
  if (ids.length === 0) return { workerIds: ids, size, entries };
  // offset and skip come from two independent hashes of the id (the two lanes).
  const position = new Float64Array(ids.length);
  const skip = new Float64Array(ids.length);
  ids.forEach((id, i) => {
    const h = hash64(id);
    position[i] = h.lo % size;
    skip[i] = (h.hi % (size - 1)) + 1;
  });
  const isFilled = new Uint8Array(size);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < ids.length; i += 1) {
      // Walk worker i's permutation to its next free slot. size is prime and
      // 0 < skip < size, so the walk visits every slot: it always finds one.
      let slot = position[i]!;
      while (isFilled[slot] === 1) slot = (slot + skip[i]!) % size;
      isFilled[slot] = 1;
      entries[slot] = i;
      position[i] = (slot + skip[i]!) % size;
      filled += 1;
      if (filled === size) return { workerIds: ids, size, entries };
    }
  }
}

// Salt the key hash apart from the hashes of worker ids (same function).
const KEY_SEED = 0x4d61676c; // "Magl"

export function maglevLookup(table: MaglevTable, key: string): string | undefined {
  if (table.workerIds.length === 0) return undefined;
  return table.workerIds[table.entries[hash32(key, KEY_SEED) % table.size]!];
}

// One table per distinct worker set, built once. Capability filters make a
// few sets live at once; a small most-recently-used cache covers them.
const TABLE_CACHE_LIMIT = 16;
const tables = new Map<string, MaglevTable>();

/** The table for this set of ids (in any order), built on first use. */
export function maglevTableFor(
  workerIds: readonly string[],
  size = DEFAULT_MAGLEV_TABLE_SIZE,
): MaglevTable {
  const cacheKey = `${size}\u0000${sortedDistinct(workerIds).join("\u0000")}`;
  let table = tables.get(cacheKey);
  if (table !== undefined) {
    tables.delete(cacheKey); // re-insert: Map order is the recency order
  } else {
    table = buildMaglevTable(workerIds, size);
    if (tables.size >= TABLE_CACHE_LIMIT) tables.delete(tables.keys().next().value as string);
  }
  tables.set(cacheKey, table);
  return table;
}

/** The key's Maglev home, then every other worker in the key's rendezvous order (ids distinct). */
export function maglevOrder(
  key: string,
  workerIds: readonly string[],
  tableSize = DEFAULT_MAGLEV_TABLE_SIZE,
): string[] {
  const home = maglevLookup(maglevTableFor(workerIds, tableSize), key);
  if (home === undefined) return [];
  return [
    home,
    ...rendezvousOrder(
      key,
      workerIds.filter((id) => id !== home),
    ),
  ];
}
