import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { TaskSpecSchema } from "../contracts/index.js";
import { backoffPolicyOf, retryDelayMs } from "./retry-backoff.js";

const policy = { baseMs: 100, capMs: 1000 };

describe("retryDelayMs", () => {
  const cases: { name: string; attempt: number; random: number; expected: number }[] = [
    { name: "first retry draws below the base", attempt: 1, random: 0.999, expected: 99 },
    { name: "doubles with each failed attempt", attempt: 3, random: 0.5, expected: 200 },
    { name: "never exceeds the cap", attempt: 10, random: 0.999, expected: 999 },
    { name: "full jitter reaches down to zero", attempt: 5, random: 0, expected: 0 },
    { name: "huge attempt counts do not overflow", attempt: 10_000, random: 0.5, expected: 500 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(retryDelayMs(c.attempt, policy, () => c.random)).toBe(c.expected);
    });
  }
});

describe("backoffPolicyOf", () => {
  it("uses the task's own base and cap when it sets them", () => {
    const spec = create(TaskSpecSchema, { retryBackoffBase: durationFromMs(2000), retryBackoffCap: durationFromMs(60_000) });
    expect(backoffPolicyOf(spec, policy)).toEqual({ baseMs: 2000, capMs: 60_000 });
  });
  it("falls back to the defaults, keeping the cap at least the base", () => {
    expect(backoffPolicyOf(create(TaskSpecSchema, {}), policy)).toEqual(policy);
    expect(backoffPolicyOf(create(TaskSpecSchema, { retryBackoffBase: durationFromMs(5000) }), policy)).toEqual({ baseMs: 5000, capMs: 5000 });
  });
});
