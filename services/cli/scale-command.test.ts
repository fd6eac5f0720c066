import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  GetScalingStatusResponseSchema,
  type GetScalingStatusResponse,
} from "../../libs/contracts/index.js";
import { scaleVerdict } from "./scale-command.js";

const status = (
  fields: MessageInitShape<typeof GetScalingStatusResponseSchema>,
): GetScalingStatusResponse =>
  create(GetScalingStatusResponseSchema, {
    autoscalingEnabled: false,
    mode: "manual",
    provider: "local",
    ...fields,
  });

describe("waiting for the fleet to reach a manual target", () => {
  const cases: {
    name: string;
    reading: GetScalingStatusResponse;
    verdict: ReturnType<typeof scaleVerdict>;
  }[] = [
    {
      name: "shows ready, starting and desired while workers start",
      reading: status({ currentWorkers: 1, startingWorkers: 2, desiredWorkers: 3 }),
      verdict: { kind: "waiting", progress: "scaling to 3: 1 ready + 2 starting, desired 3" },
    },
    {
      name: "is reached with exactly that many ready and none starting",
      reading: status({ currentWorkers: 3, startingWorkers: 0, desiredWorkers: 3 }),
      verdict: { kind: "done" },
    },
    {
      name: "is not reached while one more is still starting",
      reading: status({ currentWorkers: 3, startingWorkers: 1, desiredWorkers: 3 }),
      verdict: { kind: "waiting", progress: "scaling to 3: 3 ready + 1 starting, desired 3" },
    },
    {
      name: "is not reached before the autoscaler has taken the target in",
      reading: status({ currentWorkers: 3, startingWorkers: 0, desiredWorkers: 2 }),
      verdict: { kind: "waiting", progress: "scaling to 3: 3 ready + 0 starting, desired 2" },
    },
    {
      name: "waits for drained workers to go when scaling down",
      reading: status({ currentWorkers: 4, desiredWorkers: 3 }),
      verdict: { kind: "waiting", progress: "scaling to 3: 4 ready + 0 starting, desired 3" },
    },
    {
      name: "says the fleet is degraded while it waits",
      reading: status({
        currentWorkers: 2,
        desiredWorkers: 3,
        degraded: true,
        degradedReason: "worker-3 failed for good",
      }),
      verdict: {
        kind: "waiting",
        progress:
          "scaling to 3: 2 ready + 0 starting, desired 3; DEGRADED: worker-3 failed for good",
      },
    },
    {
      name: "gives up when someone switched autoscaling back on",
      reading: status({
        autoscalingEnabled: true,
        mode: "normal",
        currentWorkers: 3,
        desiredWorkers: 3,
      }),
      verdict: {
        kind: "abandoned",
        problem: "the manual target 3 was replaced while waiting (autoscaling on, mode normal)",
      },
    },
  ];
  it.each(cases)("$name", ({ reading, verdict }) => {
    expect(scaleVerdict(reading, 3)).toEqual(verdict);
  });
});
