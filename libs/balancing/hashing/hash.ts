// A fast, dependency-free string hash that every balancer replica and the
// coordinator compute identically: MurmurHash3 (x86, 32-bit; Appleby's
// SMHasher reference) over the UTF-8 bytes, run in two lanes with different
// seeds to give 64 bits as two unsigned 32-bit halves. Integer arithmetic
// only (Math.imul, >>> 0), so the result does not depend on the platform.

/** A 64-bit hash as two unsigned 32-bit halves. */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const SEED_HI = 0x9747b28c;
const SEED_LO = 0;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function scrambleBlock(k: number): number {
  return Math.imul(rotl32(Math.imul(k, C1), 15), C2);
}

function mixBlock(h: number, k: number): number {
  return (Math.imul(rotl32(h ^ scrambleBlock(k), 13), 5) + 0xe6546b64) | 0;
}

/** Murmur3's finaliser: every input bit affects every output bit (avalanche). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 of `length` bytes from `bytes`, unsigned. */
export function murmur3(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let h = seed | 0;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    h = mixBlock(
      h,
      bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24),
    );
  }
  // The last 1-3 bytes, little-endian, as the reference's fall-through switch reads them.
  const tailLength = length & 3;
  if (tailLength > 0) {
    let tail = 0;
    for (let i = tailLength - 1; i >= 0; i -= 1) tail = (tail << 8) | bytes[blockEnd + i]!;
    h ^= scrambleBlock(tail);
  }
  return fmix32(h ^ length);
}

// One scratch buffer for UTF-8 encoding: hashing runs per placement, and a
// fresh Uint8Array per key would be most of its cost.
const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

function encodeUtf8(text: string): number {
  // A UTF-16 code unit never needs more than 3 UTF-8 bytes.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

/** MurmurHash3_x86_32 of the UTF-8 bytes of `text`. */
export function hash32(text: string, seed = 0): number {
  const length = encodeUtf8(text); // first: it may replace the scratch buffer
  return murmur3(scratch, seed, length);
}

/** 64 bits of hash for `text`: two murmur3 lanes with different seeds. */
export function hash64(text: string): Hash64 {
  const length = encodeUtf8(text);
  return { hi: murmur3(scratch, SEED_HI, length), lo: murmur3(scratch, SEED_LO, length) };
}

function murmur3Words(a: Hash64, b: Hash64, seed: number): number {
  let h = seed;
  h = mixBlock(h, a.hi);
  h = mixBlock(h, a.lo);
  h = mixBlock(h, b.hi);
  h = mixBlock(h, b.lo);
  return fmix32(h ^ 16);
}

/**
 * The hash of a pair, from the pair's hashes: murmur3 of their 16 bytes in
 * both lanes. Order matters (pair(a, b) ≠ pair(b, a)); it lets rendezvous
 * hash each worker id once and still score every (key, worker) pair.
 */
export function hashPair64(a: Hash64, b: Hash64): Hash64 {
  return { hi: murmur3Words(a, b, SEED_HI), lo: murmur3Words(a, b, SEED_LO) };
}

/** toSortable53(hashPair64(a, b)) without building the pair: rendezvous scores every worker per placement. */
export function hashPairSortable53(a: Hash64, b: Hash64): number {
  return murmur3Words(a, b, SEED_HI) * 2 ** 21 + (murmur3Words(a, b, SEED_LO) >>> 11);
}

/** The top 53 bits as a non-negative number, exact in a double: for sorting by hash. */
export function toSortable53(h: Hash64): number {
  return h.hi * 2 ** 21 + (h.lo >>> 11);
}
