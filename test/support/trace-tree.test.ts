import { describe, expect, it } from "vitest";
import type { ReceivedSpan } from "./otlp-receiver.js";
import { renderTraceTree, traceShape, traceTree } from "./trace-tree.js";

const MS = 1_000_000n;

function span(
  spanId: string,
  parentSpanId: string,
  service: string,
  name: string,
  startMs: bigint,
  endMs: bigint,
  options: { kind?: number; traceId?: string } = {},
): ReceivedSpan {
  return {
    service,
    traceId: options.traceId ?? "t1",
    spanId,
    parentSpanId,
    name,
    kind: options.kind ?? 1,
    startTimeUnixNano: 1_700_000_000_000n * MS + startMs * MS,
    endTimeUnixNano: 1_700_000_000_000n * MS + endMs * MS,
  };
}

// Out of order, as exports from several processes arrive.
const spans: ReceivedSpan[] = [
  span("c", "b", "coordinator", "Place", 2n, 5n, { kind: 2 }),
  span("a", "", "client", "submit", 0n, 10n),
  span("e", "a", "client", "AwaitTask", 6n, 9n, { kind: 3 }),
  span("b", "a", "client", "Assign", 1n, 6n, { kind: 3 }),
  span("d", "c", "worker", "task.run", 3n, 4n),
  span("x", "", "other", "unrelated", 0n, 1n, { traceId: "t2" }),
  span("f", "missing", "worker", "orphan", 7n, 8n),
];

describe("trace tree", () => {
  it("hangs each span under its parent, siblings in start order, other traces left out", () => {
    expect(traceShape(traceTree(spans, "t1"))).toEqual([
      "client  submit (internal)",
      "├─ client  Assign (client)",
      "│  └─ coordinator  Place (server)",
      "│     └─ worker  task.run (internal)",
      "└─ client  AwaitTask (client)",
      "worker  orphan (internal)",
    ]);
  });

  it("renders start offsets from the trace's first span and durations in milliseconds", () => {
    const text = renderTraceTree(traceTree(spans, "t1").slice(0, 1));
    expect(text.split("\n")).toEqual([
      "span                                     start  duration",
      "client  submit (internal)             +0.00 ms  10.00 ms",
      "├─ client  Assign (client)            +1.00 ms   5.00 ms",
      "│  └─ coordinator  Place (server)     +2.00 ms   3.00 ms",
      "│     └─ worker  task.run (internal)  +3.00 ms   1.00 ms",
      "└─ client  AwaitTask (client)         +6.00 ms   3.00 ms",
    ]);
  });

  it("renders nothing for a trace it has no spans of", () => {
    expect(renderTraceTree(traceTree(spans, "none"))).toBe("");
  });
});
