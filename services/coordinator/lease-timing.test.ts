import { describe, expect, it } from "vitest";
import type { LeaseRow } from "../../libs/ledger/leader-lease.js";
import { renewDelayMs, standbyRetryDelayMs, transactionIdleLimitMs } from "./lease-timing.js";

const row = (expiresInMs: number): LeaseRow => ({
  holder: "127.0.0.1:7070",
  epoch: 4,
  expiresInMs,
});

describe("standbyRetryDelayMs", () => {
  const cases: { name: string; row: LeaseRow | undefined; ttlMs: number; expected: number }[] = [
    {
      name: "tries just after a lease that expires soon",
      row: row(120),
      ttlMs: 3_000,
      expected: 140,
    },
    {
      name: "looks again within the poll cap while a lease runs",
      row: row(2_900),
      ttlMs: 3_000,
      expected: 500,
    },
    { name: "a short ttl polls every third of it", row: row(900), ttlMs: 900, expected: 300 },
    {
      name: "an expired or released lease is tried almost at once",
      row: row(-40),
      ttlMs: 3_000,
      expected: 20,
    },
    {
      name: "a database that did not answer is asked again after a third of the ttl",
      row: undefined,
      ttlMs: 3_000,
      expected: 1_000,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      expect(standbyRetryDelayMs(c.row, c.ttlMs)).toBe(c.expected);
    });
});

describe("renewDelayMs", () => {
  it("renews every third of the ttl, so two renewals can fail before it runs out", () => {
    expect(renewDelayMs(3_000, false)).toBe(1_000);
  });
  it("retries a failed renewal after a tenth of the ttl", () => {
    expect(renewDelayMs(3_000, true)).toBe(300);
  });
  it("never spins faster than every 10 ms", () => {
    expect(renewDelayMs(30, true)).toBe(10);
  });
});

describe("transactionIdleLimitMs", () => {
  it("lets a write connection idle inside a transaction for half the ttl", () => {
    expect(transactionIdleLimitMs(3_000)).toBe(1_500);
  });
  it("never below 100 ms", () => {
    expect(transactionIdleLimitMs(50)).toBe(100);
  });
});
