import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createResultOutbox } from "./result-outbox.js";
import {
  heartbeatMessage,
  resultOf,
  taskResultMessage,
  type SessionRequest,
} from "./session-messages.js";

const silent = pino({ level: "silent" });
const result = (taskId: string, attempt = 1, error = "", outputBytes = 0): SessionRequest =>
  taskResultMessage({
    taskId,
    attempt,
    succeeded: error === "",
    error,
    output: new Uint8Array(outputBytes),
  });
const bounds = { maxResults: 10, maxBytes: 1000 };

type Step =
  | { readonly add: SessionRequest }
  | { readonly ack: readonly [taskId: string, attempt: number]; readonly isHeld: boolean };

/** What the outbox holds after the steps, as taskId#attempt(error), oldest first. */
function heldAfter(steps: readonly Step[], limits: Partial<typeof bounds> = {}): string[] {
  const outbox = createResultOutbox({ ...bounds, ...limits, logger: silent });
  for (const step of steps) {
    if ("add" in step) outbox.add(step.add);
    else expect(outbox.acknowledge(...step.ack)).toBe(step.isHeld);
  }
  expect(outbox.size).toBe(outbox.unacknowledged().length);
  return outbox.unacknowledged().map((message) => {
    const held = resultOf(message);
    return `${held?.taskId}#${held?.attempt}${held?.error ? `(${held.error})` : ""}`;
  });
}

describe("result outbox", () => {
  it.each<{ name: string; steps: Step[]; limits?: Partial<typeof bounds>; expected: string[] }>([
    {
      name: "holds results oldest first until acked",
      steps: [{ add: result("a") }, { add: result("b") }],
      expected: ["a#1", "b#1"],
    },
    {
      name: "an ack forgets that result only",
      steps: [{ add: result("a") }, { add: result("b") }, { ack: ["a", 1], isHeld: true }],
      expected: ["b#1"],
    },
    {
      name: "an ack for another attempt keeps the result",
      steps: [{ add: result("a", 2) }, { ack: ["a", 1], isHeld: false }],
      expected: ["a#2"],
    },
    {
      name: "an ack for an unknown task changes nothing",
      steps: [{ add: result("a") }, { ack: ["z", 1], isHeld: false }],
      expected: ["a#1"],
    },
    {
      name: "a second ack finds nothing",
      steps: [
        { add: result("a") },
        { ack: ["a", 1], isHeld: true },
        { ack: ["a", 1], isHeld: false },
      ],
      expected: [],
    },
    {
      name: "a newer result of the same attempt replaces the held one and counts as newest",
      steps: [{ add: result("a", 1, "old") }, { add: result("b") }, { add: result("a", 1, "new") }],
      expected: ["b#1", "a#1(new)"],
    },
    {
      name: "two attempts of a task are held apart",
      steps: [{ add: result("a", 1) }, { add: result("a", 2) }],
      expected: ["a#1", "a#2"],
    },
    {
      name: "past maxResults the oldest is dropped",
      steps: [{ add: result("a") }, { add: result("b") }, { add: result("c") }],
      limits: { maxResults: 2 },
      expected: ["b#1", "c#1"],
    },
    {
      name: "past maxBytes of outputs the oldest is dropped",
      steps: [
        { add: result("a", 1, "", 400) },
        { add: result("b", 1, "", 400) },
        { add: result("c", 1, "", 400) },
      ],
      limits: { maxBytes: 1000 },
      expected: ["b#1", "c#1"],
    },
    {
      name: "an acked result frees its bytes",
      steps: [
        { add: result("a", 1, "", 600) },
        { ack: ["a", 1], isHeld: true },
        { add: result("b", 1, "", 600) },
        { add: result("c", 1, "", 300) },
      ],
      limits: { maxBytes: 1000 },
      expected: ["b#1", "c#1"],
    },
    {
      name: "a replaced result frees its bytes",
      steps: [
        { add: result("a", 1, "", 600) },
        { add: result("a", 1, "", 100) },
        { add: result("b", 1, "", 800) },
      ],
      limits: { maxBytes: 1000 },
      expected: ["a#1", "b#1"],
    },
    {
      name: "the newest result is kept even when it alone is over maxBytes",
      steps: [{ add: result("a", 1, "", 10) }, { add: result("huge", 1, "", 5000) }],
      expected: ["huge#1"],
    },
    {
      name: "anything but a result is not held",
      steps: [{ add: heartbeatMessage({ freeSlots: 1 }) }],
      expected: [],
    },
  ])("$name", ({ steps, limits, expected }) => {
    expect(heldAfter(steps, limits)).toEqual(expected);
  });

  it("lists the task id of every held result for Register", () => {
    const outbox = createResultOutbox({ ...bounds, logger: silent });
    outbox.add(result("a"));
    outbox.add(result("b", 3));
    expect(outbox.taskIds()).toEqual(["a", "b"]);
  });

  it("logs a dropped result that never went out as an error, and one the coordinator never acked as a warning once", () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino(
      { level: "debug" },
      { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    const outbox = createResultOutbox({ ...bounds, maxResults: 1, logger });
    const send = (message: SessionRequest): void => {
      outbox.add(message);
      outbox.markSent(message);
    };
    outbox.add(result("never-sent"));
    send(result("sent-1"));
    send(result("sent-2"));
    send(result("sent-3"));
    const levels = { 20: "debug", 40: "warn", 50: "error" } as const;
    expect(lines.map((line) => levels[line.level as keyof typeof levels])).toEqual([
      "error",
      "warn",
      "debug",
    ]);
    expect(lines[0]?.msg).toMatch(/before it was ever sent/);
    expect(lines[1]?.msg).toMatch(/never acknowledged/);
  });
});
