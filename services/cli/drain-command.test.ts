import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { WorkerState, WorkerStatusSchema, type WorkerStatus } from "../../libs/contracts/index.js";
import { drainVerdict, leftText, type DrainReading } from "./drain-command.js";

const worker = (state: WorkerState, inFlight: number, registeredAtMs = 1_000): WorkerStatus =>
  create(WorkerStatusSchema, {
    spec: { workerId: "worker-1" },
    state,
    inFlight,
    registeredAt: timestampFromMs(registeredAtMs),
  });
const drained = worker(WorkerState.DRAINING, 2);
const seen = (status: WorkerStatus, isForgotten = false): DrainReading => ({
  worker: status,
  isForgotten,
});

describe("waiting for a drained worker to leave", () => {
  const cases: { name: string; reading: DrainReading; verdict: ReturnType<typeof drainVerdict> }[] =
    [
      {
        name: "counts the tasks it still runs",
        reading: seen(worker(WorkerState.DRAINING, 2)),
        verdict: { kind: "waiting", progress: "draining worker-1: 2 task(s) in flight" },
      },
      {
        name: "says when nothing runs and it has yet to leave",
        reading: seen(worker(WorkerState.DRAINING, 0)),
        verdict: {
          kind: "waiting",
          progress: "draining worker-1: nothing in flight, waiting for it to leave",
        },
      },
      {
        name: "keeps waiting through a late heartbeat",
        reading: seen(worker(WorkerState.SUSPECT, 1)),
        verdict: { kind: "waiting", progress: "draining worker-1: 1 task(s) in flight" },
      },
      {
        name: "is done once the worker is gone (dead)",
        reading: seen(worker(WorkerState.DEAD, 0)),
        verdict: { kind: "done" },
      },
      {
        name: "is done once the coordinator has forgotten it",
        reading: seen(drained, true),
        verdict: { kind: "done" },
      },
      {
        name: "is done when a new agent registered under the same id (a provider's restart)",
        reading: seen(worker(WorkerState.ALIVE, 0, 5_000)),
        verdict: { kind: "done" },
      },
      {
        name: "gives up when the same registration takes tasks again",
        reading: seen(worker(WorkerState.ALIVE, 0)),
        verdict: {
          kind: "abandoned",
          problem: "worker worker-1 takes tasks again: it no longer drains",
        },
      },
    ];
  it.each(cases)("$name", ({ reading, verdict }) => {
    expect(drainVerdict(drained, reading)).toEqual(verdict);
  });

  it("says the worker left, and whether another agent took its id since", () => {
    expect(leftText(drained, seen(worker(WorkerState.DEAD, 0)))).toBe(
      "worker worker-1 has drained and left",
    );
    expect(leftText(drained, seen(worker(WorkerState.ALIVE, 0, 5_000)))).toBe(
      "worker worker-1 has drained and left; a new agent has since joined as worker-1",
    );
  });
});
