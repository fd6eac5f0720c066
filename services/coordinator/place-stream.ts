// PlaceStream: Place for many tasks over one stream. Every item is placed
// as a unary Place would be (the same validation, the same durable commit
// before its answer); the answers made durable in one turn leave in one
// message. A bounded number of items is worked on at once; beyond it the
// stream is not read, and HTTP/2 flow control pushes back on the balancer.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  PlaceResponse,
  PlaceStreamRequest,
  PlaceStreamResponseSchema,
  TaskSpec,
} from "../../libs/contracts/index.js";
import { validateTaskSpec } from "../../libs/contracts/index.js";
import { createAsyncQueue, invalidArgument, toConnectError } from "../../libs/rpc/index.js";
import { contextFrom, inSpan, traceContextOf } from "../../libs/telemetry/index.js";

type Outcome = NonNullable<MessageInitShape<typeof PlaceStreamResponseSchema>["outcomes"]>[number];

export interface PlaceStreamOptions {
  readonly maxPayloadBytes: number;
  /** Items worked on at once per stream. */
  readonly window: number;
  readonly place: (
    task: TaskSpec,
    workerId: string,
    traceContext: Record<string, string>,
  ) => Promise<PlaceResponse>;
}

export async function* servePlaceStream(
  batches: AsyncIterable<PlaceStreamRequest>,
  options: PlaceStreamOptions,
): AsyncIterable<MessageInitShape<typeof PlaceStreamResponseSchema>> {
  const responses = createAsyncQueue<MessageInitShape<typeof PlaceStreamResponseSchema>>();
  let ready: Outcome[] = [];
  let isFlushScheduled = false;
  let inFlight = 0;
  let wakeReader: (() => void) | undefined;

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
  const settle = (): void => {
    inFlight -= 1;
    const wake = wakeReader;
    wakeReader = undefined;
    wake?.();
  };

  const placeOne = async (item: PlaceStreamRequest["items"][number]): Promise<PlaceResponse> => {
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

  const reading = (async () => {
    for await (const batch of batches) {
      for (const item of batch.items) {
        while (inFlight >= options.window)
          await new Promise<void>((resolve) => (wakeReader = resolve));
        inFlight += 1;
        const sequence = item.sequence;
        placeOne(item)
          .then(
            (placed) => answer({ sequence, outcome: { case: "placed", value: placed } }),
            (error: unknown) => {
              const status = toConnectError(error);
              answer({
                sequence,
                outcome: {
                  case: "error",
                  value: { code: status.code, message: status.rawMessage },
                },
              });
            },
          )
          .finally(settle);
      }
    }
  })()
    // The caller hung up or the server is stopping: the items already taken
    // are still placed and answered (their commits are under way); no more are read.
    .catch(() => undefined)
    .then(async () => {
      while (inFlight > 0) await new Promise<void>((resolve) => (wakeReader = resolve));
      // The last answers leave on the turn after they settled.
      await new Promise<void>((resolve) => setImmediate(resolve));
    })
    .finally(() => responses.close());
  for await (const response of responses) yield response;
  await reading;
}
