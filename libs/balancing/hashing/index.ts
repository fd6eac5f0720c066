// Hashing strategies: a routing key's tasks go to the same worker (its home)
// while that worker is under the bounded-loads limit.
export * from "./contract.js";
export { hash32, hash64, hashPair64, murmur3, type Hash64 } from "./hash.js";
export { rendezvousOrder, rendezvousScore } from "./rendezvous.js";
export {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  maglevLookup,
  maglevOrder,
  maglevTableFor,
  type MaglevTable,
} from "./maglev.js";
export {
  DEFAULT_BALANCE_FACTOR,
  DEFAULT_OVERFLOW_CANDIDATES,
  loadBound,
  rankWithBoundedLoads,
  type BoundedLoadOptions,
} from "./bounded-load.js";
export {
  createConsistentHashStrategy,
  createMaglevStrategy,
  placementKey,
  type ConsistentHashOptions,
  type MaglevOptions,
} from "./hash-strategy.js";
