import { describe, expect, it } from "vitest";
import { hash32, hash64, hashPair64, murmur3 } from "./hash.js";

describe("murmur3 (x86, 32-bit)", () => {
  // Vectors from the SMHasher reference implementation.
  const byteCases: { name: string; bytes: number[]; seed: number; expected: number }[] = [
    { name: "empty, seed 0", bytes: [], seed: 0, expected: 0 },
    { name: "empty, seed 1", bytes: [], seed: 1, expected: 0x514e28b7 },
    { name: "empty, seed 0xffffffff", bytes: [], seed: 0xffffffff, expected: 0x81f16f39 },
    { name: "four 0xff bytes", bytes: [0xff, 0xff, 0xff, 0xff], seed: 0, expected: 0x76293b50 },
    { name: "one block", bytes: [0x21, 0x43, 0x65, 0x87], seed: 0, expected: 0xf55b516b },
    {
      name: "one block, seeded",
      bytes: [0x21, 0x43, 0x65, 0x87],
      seed: 0x5082edee,
      expected: 0x2362f9de,
    },
    { name: "three-byte tail", bytes: [0x21, 0x43, 0x65], seed: 0, expected: 0x7e4a8634 },
  ];
  for (const c of byteCases) {
    it(`matches the reference: ${c.name}`, () => {
      expect(murmur3(new Uint8Array(c.bytes), c.seed)).toBe(c.expected);
    });
  }

  it("hashes strings as their UTF-8 bytes", () => {
    expect(hash32("Hello world")).toBe(2911983372);
    expect(hash32("R")).toBe(0x79b365c1);
    expect(hash32("", 42)).toBe(0x087fcd5c);
    expect(hash32("[)<{vbjRgcp")).toBe(0x100949f7);
    expect(hash32("é")).toBe(murmur3(new Uint8Array([0xc3, 0xa9])));
    expect(hash32("🙂")).toBe(murmur3(new TextEncoder().encode("🙂")));
  });

  it("gives unsigned results and is stable for long keys", () => {
    const long = "k".repeat(10_000);
    expect(hash32(long)).toBe(hash32(long));
    expect(hash32(long)).toBeGreaterThanOrEqual(0);
  });
});

describe("hash64", () => {
  it("has two lanes that differ and are deterministic", () => {
    const h = hash64("tenant-42");
    expect(h).toEqual(hash64("tenant-42"));
    expect(h.hi).not.toBe(h.lo);
    expect(h.lo).toBe(hash32("tenant-42"));
  });

  it("spreads sequential keys evenly over 16 buckets", () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i += 1) buckets[hash64(`key-${i}`).hi % 16]! += 1;
    for (const count of buckets) expect(Math.abs(count - 1000)).toBeLessThan(130); // about 4 standard deviations
  });

  it("hashes a pair in order", () => {
    const a = hash64("a");
    const b = hash64("b");
    expect(hashPair64(a, b)).not.toEqual(hashPair64(b, a));
    expect(hashPair64(a, b)).toEqual(hashPair64(hash64("a"), hash64("b")));
  });
});
