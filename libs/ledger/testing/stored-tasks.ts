// Small builders for tests of task stores: a StoredTask in a given state with
// the fields a store indexes, and a comparison that goes through protobuf
// equality (64-bit timestamps, bytes and maps included).
import { create, equals } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AttemptRecordSchema, TaskSchema, TaskState } from "../../contracts/index.js";
import { isFinal } from "../task-ledger.js";
import type { StoredTask } from "../task-store.js";

export interface StoredTaskFixture {
  readonly id: string;
  readonly sequence: number;
  readonly state?: TaskState;
  readonly workerId?: string;
  readonly priority?: number;
  readonly createdMs?: number;
  /** When it last changed; also its finish time when the state is final. */
  readonly updatedMs?: number;
  readonly payloadBytes?: number;
}

export function storedTask(fixture: StoredTaskFixture): StoredTask {
  const state = fixture.state ?? TaskState.PENDING;
  const createdMs = fixture.createdMs ?? 1_700_000_000_000;
  const updatedMs = fixture.updatedMs ?? createdMs;
  const task = create(TaskSchema, {
    spec: {
      taskId: fixture.id,
      routingKey: `key-${fixture.id}`,
      payload: new Uint8Array(fixture.payloadBytes ?? 8).fill(7),
      priority: fixture.priority ?? 0,
      maxAttempts: 3,
      timeout: durationFromMs(30_000),
      labels: { team: "ledger" },
    },
    state,
    attempt: 1,
    workerId: fixture.workerId ?? "",
    createdAt: timestampFromMs(createdMs),
    updatedAt: timestampFromMs(updatedMs),
    finishedAt: isFinal(state) ? timestampFromMs(updatedMs) : undefined,
    history:
      state === TaskState.DEAD_LETTERED
        ? [
            create(AttemptRecordSchema, {
              attempt: 1,
              workerId: "w-old",
              error: "boom",
              endedAt: timestampFromMs(updatedMs),
            }),
          ]
        : [],
  });
  return {
    task,
    maxAttempts: 3,
    traceContext: { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` },
    sequence: fixture.sequence,
  };
}

/** True when both lists hold the same tasks, field for field, in the same order. */
export function sameStoredTasks(
  actual: readonly StoredTask[],
  expected: readonly StoredTask[],
): boolean {
  return (
    actual.length === expected.length &&
    actual.every((entry, i) => {
      const other = expected[i];
      return (
        other !== undefined &&
        equals(TaskSchema, entry.task, other.task) &&
        entry.maxAttempts === other.maxAttempts &&
        entry.sequence === other.sequence &&
        JSON.stringify(entry.traceContext) === JSON.stringify(other.traceContext)
      );
    })
  );
}
