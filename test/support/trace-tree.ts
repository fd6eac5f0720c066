// One trace as a tree, the way a trace viewer draws it: each span under its
// parent, siblings in start order, one line a span with its service, name,
// kind, start offset from the trace's first span and duration. Used to put a
// task's real trace in the README and to assert a trace's shape in tests.
import type { ReceivedSpan } from "./otlp-receiver.js";

export interface TraceNode {
  readonly span: ReceivedSpan;
  readonly children: readonly TraceNode[];
}

const SPAN_KINDS: Readonly<Record<number, string>> = {
  1: "internal",
  2: "server",
  3: "client",
  4: "producer",
  5: "consumer",
};

/**
 * The spans of `traceId` as trees. A span whose parent is not among them
 * (a root, or a parent not exported yet) starts a tree of its own.
 */
export function traceTree(spans: readonly ReceivedSpan[], traceId: string): TraceNode[] {
  const inTrace = spans
    .filter((s) => s.traceId === traceId)
    .sort((a, b) => compareBigint(a.startTimeUnixNano, b.startTimeUnixNano));
  const ids = new Set(inTrace.map((s) => s.spanId));
  const childrenOf = new Map<string, ReceivedSpan[]>();
  for (const span of inTrace) {
    const siblings = childrenOf.get(span.parentSpanId) ?? [];
    siblings.push(span);
    childrenOf.set(span.parentSpanId, siblings);
  }
  const grow = (span: ReceivedSpan): TraceNode => ({
    span,
    children: (childrenOf.get(span.spanId) ?? []).map(grow),
  });
  return inTrace.filter((s) => !ids.has(s.parentSpanId)).map(grow);
}

/** `service  name (kind)` for each span, indented by depth: the shape, with no times. */
export function traceShape(roots: readonly TraceNode[]): string[] {
  return treeLines(roots).map((line) => `${line.prefix}${line.label}`);
}

/** The tree as aligned text: shape, then start offset and duration in milliseconds. */
export function renderTraceTree(roots: readonly TraceNode[]): string {
  const lines = treeLines(roots);
  if (lines.length === 0) return "";
  const start = lines.map((line) => line.span.startTimeUnixNano).reduce((a, b) => (a < b ? a : b));
  const width = Math.max(...lines.map((line) => line.prefix.length + line.label.length));
  const offsets = lines.map((line) => `+${msText(line.span.startTimeUnixNano - start)}`);
  const durations = lines.map((line) =>
    msText(line.span.endTimeUnixNano - line.span.startTimeUnixNano),
  );
  const offsetWidth = Math.max(...offsets.map((text) => text.length));
  const durationWidth = Math.max(...durations.map((text) => text.length));
  const header = `${"span".padEnd(width)}  ${"start".padStart(offsetWidth)}  ${"duration".padStart(durationWidth)}`;
  const body = lines.map(
    (line, i) =>
      `${`${line.prefix}${line.label}`.padEnd(width)}  ${offsets[i]?.padStart(offsetWidth)}  ${durations[i]?.padStart(durationWidth)}`,
  );
  return [header, ...body].join("\n");
}

interface TreeLine {
  readonly prefix: string;
  readonly label: string;
  readonly span: ReceivedSpan;
}

function treeLines(roots: readonly TraceNode[]): TreeLine[] {
  const lines: TreeLine[] = [];
  const walk = (node: TraceNode, prefix: string, childPrefix: string): void => {
    lines.push({ prefix, label: labelOf(node.span), span: node.span });
    node.children.forEach((child, i) => {
      const isLast = i === node.children.length - 1;
      walk(
        child,
        `${childPrefix}${isLast ? "└─ " : "├─ "}`,
        `${childPrefix}${isLast ? "   " : "│  "}`,
      );
    });
  };
  for (const root of roots) walk(root, "", "");
  return lines;
}

function labelOf(span: ReceivedSpan): string {
  const kind = SPAN_KINDS[span.kind];
  return `${span.service}  ${span.name}${kind ? ` (${kind})` : ""}`;
}

function msText(nanos: bigint): string {
  return `${(Number(nanos) / 1e6).toFixed(2)} ms`;
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
