import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { TaskSpecSchema } from "../contracts/index.js";
import { backoffPolicyOf, retryDelayMs } from "./retry-backoff.js";

const policy = { initialMs: 100, maxMs: 1000 };

// The curve itself is tested in libs/backoff; here only how a task's attempts map onto it.
describe("retryDelayMs", () => {
  it("counts attempt 1 as the first failure", () => {
    expect(retryDelayMs(1, policy, () => 0.5)).toBe(50);
    expect(retryDelayMs(3, policy, () => 0.5)).toBe(200);
  });
});

describe("backoffPolicyOf", () => {
  it("uses the task's own base and cap when it sets them", () => {
    const spec = create(TaskSpecSchema, {
      retryBackoffBase: durationFromMs(2000),
      retryBackoffCap: durationFromMs(60_000),
    });
    expect(backoffPolicyOf(spec, policy)).toEqual({ initialMs: 2000, maxMs: 60_000 });
  });
  it("falls back to the defaults, keeping the cap at least the base", () => {
    expect(backoffPolicyOf(create(TaskSpecSchema, {}), policy)).toEqual(policy);
    expect(backoffPolicyOf(undefined, policy)).toEqual(policy);
    expect(
      backoffPolicyOf(create(TaskSpecSchema, { retryBackoffBase: durationFromMs(5000) }), policy),
    ).toEqual({ initialMs: 5000, maxMs: 5000 });
  });
});
