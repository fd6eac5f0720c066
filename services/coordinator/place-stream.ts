// PlaceStream: Place for many tasks over one stream. Every item is placed
// as a unary Place would be (the same validation, the same durable commit
// before its answer); the answers made durable in one turn leave in one
// message. A bounded number of items is worked on at once; beyond it the
// stream is not read, and HTTP/2 flow control pushes back on the balancer.
// An item that asks to await its result is answered a second time when its
// task is final; waiting items are outside the window, so long tasks never
// hold up placements.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  PlaceResponse,
  PlaceStreamRequest,
  PlaceStreamResponseSchema,
  Task,
  TaskSpec,
} from "../../libs/contracts/index.js";
import { validateTaskSpec } from "../../libs/contracts/index.js";
import { createAsyncQueue, invalidArgument, toConnectError } from "../../libs/rpc/index.js";
import { contextFrom, inSpan, traceContextOf } from "../../libs/telemetry/index.js";

type Outcome = NonNullable<MessageInitShape<typeof PlaceStreamResponseSchema>["outcomes"]>[number];
type Item = PlaceStreamRequest["items"][number];

export interface PlaceStreamOptions {
  readonly maxPayloadBytes: number;
  /** Items worked on at once per stream. */
  readonly window: number;
  readonly place: (
    task: TaskSpec,
    workerId: string,
    traceContext: Record<string, string>,
  ) => Promise<PlaceResponse>;
  /** Calls `wake` once the task is final (at once when it is); returns how to stop listening. */
  readonly whenFinal: (taskId: string, wake: (task: Task) => void) => () => void;
}

export async function* servePlaceStream(
  batches: AsyncIterable<PlaceStreamRequest>,
  options: PlaceStreamOptions,
): AsyncIterable<MessageInitShape<typeof PlaceStreamResponseSchema>> {
  const responses = createAsyncQueue<MessageInitShape<typeof PlaceStreamResponseSchema>>();
  let ready: Outcome[] = [];
  let isFlushScheduled = false;
  let inFlight = 0;
  const awaiting = new Set<() => void>();
  let wake: (() => void) | undefined;
  const wakeUp = (): void => {
    const woken = wake;
    wake = undefined;
    woken?.();
  };
  const until = async (isTrue: () => boolean): Promise<void> => {
    while (!isTrue()) await new Promise<void>((resolve) => (wake = resolve));
  };

  // Answers that settle in one turn leave together.
  const answer = (outcome: Outcome): void => {
    ready.push(outcome);
    if (isFlushScheduled) return;
    isFlushScheduled = true;
    setImmediate(() => {
      isFlushScheduled = false;
      const outcomes = ready;
      ready = [];
      responses.push({ outcomes });
    });
  };
  const refuse = (sequence: bigint, error: unknown): void => {
    const status = toConnectError(error);
    answer({
      sequence,
      outcome: { case: "error", value: { code: status.code, message: status.rawMessage } },
    });
  };

  const placeOne = async (item: Item): Promise<PlaceResponse> => {
    const request = item.request;
    if (!request) throw invalidArgument("items.request", "is required");
    const invalid = validateTaskSpec(request.task, { maxPayloadBytes: options.maxPayloadBytes });
    if (invalid) throw invalid;
    const task = request.task as TaskSpec;
    // Each item is a Place, and traces show it as one, under the caller's span.
    return inSpan(
      "scalemesh.v1.Coordinator/Place",
      {
        parent: contextFrom(item.traceContext),
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": "scalemesh.v1.Coordinator",
          "rpc.method": "PlaceStream",
          "scalemesh.task_id": task.taskId,
          "scalemesh.worker_id": request.workerId,
        },
      },
      () => options.place(task, request.workerId, traceContextOf()),
    );
  };

  const awaitFinal = (sequence: bigint, taskId: string): void => {
    let isDone = false;
    let stop: (() => void) | undefined;
    stop = options.whenFinal(taskId, (task) => {
      isDone = true;
      if (stop) awaiting.delete(stop);
      answer({ sequence, outcome: { case: "finished", value: task } });
      wakeUp();
    });
    if (!isDone) awaiting.add(stop);
  };

  let isHungUp = false;
  const reading = (async () => {
    try {
      for await (const batch of batches) {
        for (const item of batch.items) {
          await until(() => inFlight < options.window);
          inFlight += 1;
          const sequence = item.sequence;
          placeOne(item)
            .then(
              (placed) => {
                answer({ sequence, outcome: { case: "placed", value: placed } });
                const taskId = placed.task?.spec?.taskId ?? "";
                if (item.awaitResult && taskId !== "" && !isHungUp) awaitFinal(sequence, taskId);
              },
              (error: unknown) => refuse(sequence, error),
            )
            .finally(() => {
              inFlight -= 1;
              wakeUp();
            });
        }
      }
    } catch {
      // The caller hung up or the server is stopping: the items already taken
      // are still placed (their commits are under way); nobody waits for results.
      isHungUp = true;
    }
    await until(() => inFlight === 0);
    if (isHungUp) for (const stop of [...awaiting]) stop();
    else await until(() => awaiting.size === 0);
    awaiting.clear();
    // The last answers leave on the turn after they settled.
    await new Promise<void>((resolve) => setImmediate(resolve));
  })().finally(() => responses.close());
  for await (const response of responses) yield response;
  await reading;
}
