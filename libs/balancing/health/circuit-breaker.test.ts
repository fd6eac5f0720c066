import { describe, expect, it } from "vitest";
import {
  CLOSED_CIRCUIT,
  circuitAt,
  recordCircuitOutcome,
  type Circuit,
  type CircuitOptions,
} from "./circuit-breaker.js";

const OPTIONS: CircuitOptions = { failureThreshold: 3, coolOffMs: 10_000 };

/** Feeds outcomes (true = success) at the given times and returns the circuit's kind after each. */
function play(
  outcomes: readonly [atMs: number, isSuccess: boolean][],
  start: Circuit = CLOSED_CIRCUIT,
): string[] {
  let circuit = start;
  return outcomes.map(([atMs, isSuccess]) => {
    circuit = recordCircuitOutcome(circuit, isSuccess, atMs, OPTIONS);
    return circuit.kind;
  });
}

describe("circuit breaker", () => {
  const cases: { name: string; outcomes: [number, boolean][]; expected: string[] }[] = [
    {
      name: "opens after the threshold of consecutive failures",
      outcomes: [
        [0, false],
        [1, false],
        [2, false],
      ],
      expected: ["closed", "closed", "open"],
    },
    {
      name: "a success resets the count of consecutive failures",
      outcomes: [
        [0, false],
        [1, false],
        [2, true],
        [3, false],
        [4, false],
      ],
      expected: ["closed", "closed", "closed", "closed", "closed"],
    },
    {
      name: "ignores late outcomes while open",
      outcomes: [
        [0, false],
        [1, false],
        [2, false],
        [3, true],
        [4, false],
      ],
      expected: ["closed", "closed", "open", "open", "open"],
    },
    {
      name: "closes when the half-open probe succeeds",
      outcomes: [
        [0, false],
        [1, false],
        [2, false],
        [10_002, true],
      ],
      expected: ["closed", "closed", "open", "closed"],
    },
    {
      name: "reopens when the half-open probe fails",
      outcomes: [
        [0, false],
        [1, false],
        [2, false],
        [10_002, false],
      ],
      expected: ["closed", "closed", "open", "open"],
    },
  ];
  for (const c of cases) it(c.name, () => expect(play(c.outcomes)).toEqual(c.expected));

  it("half-opens once the cool-off has passed, not before", () => {
    const open: Circuit = { kind: "open", openedAtMs: 1_000 };
    expect(circuitAt(open, 10_999, OPTIONS).kind).toBe("open");
    expect(circuitAt(open, 11_000, OPTIONS).kind).toBe("half_open");
  });

  it("restarts the cool-off when the probe fails", () => {
    const reopened = recordCircuitOutcome({ kind: "open", openedAtMs: 0 }, false, 12_000, OPTIONS);
    expect(reopened).toEqual({ kind: "open", openedAtMs: 12_000 });
    expect(circuitAt(reopened, 21_999, OPTIONS).kind).toBe("open");
    expect(circuitAt(reopened, 22_000, OPTIONS).kind).toBe("half_open");
  });
});
