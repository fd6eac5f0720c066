// The balancer's placements, over one PlaceStream to the coordinator instead
// of one Place call each: the placements asked for in one turn leave as one
// message, and answers come back several to a message. A placement waits for
// its own answer, its own deadline and its own signal; when the stream
// breaks, every placement still waiting is refused UNAVAILABLE (as a broken
// Place call would be) and the next one opens a new stream.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  PlaceItemSchema,
  PlaceRequestSchema,
  type PlaceItem,
  type Coordinator,
  type PlaceResponse,
  type PlaceStreamRequestSchema,
} from "../../libs/contracts/index.js";
import {
  Code,
  ConnectError,
  createAsyncQueue,
  toConnectError,
  type AsyncQueue,
  type RpcClient,
} from "../../libs/rpc/index.js";
import { traceContextOf } from "../../libs/telemetry/index.js";

type PlaceInit = MessageInitShape<typeof PlaceRequestSchema>;
type Batch = MessageInitShape<typeof PlaceStreamRequestSchema>;

interface Waiting {
  readonly resolve: (placed: PlaceResponse) => void;
  readonly reject: (error: ConnectError) => void;
}

export interface PlaceChannel {
  /** Places one task; rejects with the coordinator's status for it, or UNAVAILABLE when the stream broke. */
  place(
    request: PlaceInit,
    bounds: { timeoutMs: number | undefined; signal?: AbortSignal },
  ): Promise<PlaceResponse>;
  close(): void;
}

interface OpenStream {
  readonly client: RpcClient<typeof Coordinator>;
  readonly outbound: AsyncQueue<Batch>;
  readonly waiting: Map<bigint, Waiting>;
  /** Asked for this turn, not sent yet. */
  unsent: PlaceItem[];
}

export function createPlaceChannel(
  coordinator: () => RpcClient<typeof Coordinator>,
  describe: (error: ConnectError) => ConnectError,
): PlaceChannel {
  let stream: OpenStream | undefined;
  let nextSequence = 0n;
  let isClosed = false;

  const fail = (open: OpenStream, error: ConnectError): void => {
    if (stream === open) stream = undefined;
    open.outbound.close();
    const waiting = [...open.waiting.values()];
    open.waiting.clear();
    for (const waiter of waiting) waiter.reject(error);
  };

  const open = (): OpenStream => {
    const client = coordinator();
    if (stream && stream.client === client) return stream;
    if (stream) fail(stream, new ConnectError("the coordinator channel changed", Code.Unavailable));
    const opened: OpenStream = {
      client,
      outbound: createAsyncQueue<Batch>(),
      waiting: new Map(),
      unsent: [],
    };
    stream = opened;
    void (async () => {
      try {
        for await (const response of client.placeStream(opened.outbound)) {
          for (const outcome of response.outcomes) {
            const waiter = opened.waiting.get(outcome.sequence);
            if (!waiter) continue; // its caller gave up (deadline, cancel)
            opened.waiting.delete(outcome.sequence);
            if (outcome.outcome.case === "placed") waiter.resolve(outcome.outcome.value);
            else if (outcome.outcome.case === "error")
              waiter.reject(
                new ConnectError(outcome.outcome.value.message, outcome.outcome.value.code),
              );
            else
              waiter.reject(
                new ConnectError("the coordinator answered an empty outcome", Code.Internal),
              );
          }
        }
        fail(
          opened,
          new ConnectError("the coordinator ended the placement stream", Code.Unavailable),
        );
      } catch (error) {
        fail(opened, describe(toConnectError(error)));
      }
    })();
    return opened;
  };

  // Sends what this turn asked for, less what its callers already gave up
  // on; a broken stream sends nothing (its callers were refused).
  const flush = (target: OpenStream): void => {
    const items = target.unsent.filter((item) => target.waiting.has(item.sequence));
    target.unsent = [];
    if (items.length > 0 && !target.outbound.isClosed) target.outbound.push({ items });
  };

  return {
    place(request, bounds) {
      if (isClosed)
        return Promise.reject(new ConnectError("the balancer is stopping", Code.Unavailable));
      if (bounds.signal?.aborted)
        return Promise.reject(new ConnectError("the call was cancelled", Code.Canceled));
      if (bounds.timeoutMs !== undefined && bounds.timeoutMs <= 0)
        return Promise.reject(
          new ConnectError(
            "the call's deadline passed before the task was placed",
            Code.DeadlineExceeded,
          ),
        );
      const current = open();
      const sequence = nextSequence;
      nextSequence += 1n;
      return new Promise<PlaceResponse>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = (): void => {
          if (!current.waiting.delete(sequence)) return;
          cleanup();
          reject(new ConnectError("the call was cancelled", Code.Canceled));
        };
        const cleanup = (): void => {
          if (timer) clearTimeout(timer);
          bounds.signal?.removeEventListener("abort", onAbort);
        };
        current.waiting.set(sequence, {
          resolve: (placed) => (cleanup(), resolve(placed)),
          reject: (error) => (cleanup(), reject(error)),
        });
        if (bounds.timeoutMs !== undefined)
          timer = setTimeout(() => {
            if (!current.waiting.delete(sequence)) return;
            cleanup();
            reject(
              new ConnectError(
                "deadline exceeded waiting for the coordinator",
                Code.DeadlineExceeded,
              ),
            );
          }, bounds.timeoutMs);
        bounds.signal?.addEventListener("abort", onAbort, { once: true });
        if (current.unsent.length === 0) setImmediate(flush, current);
        current.unsent.push(
          create(PlaceItemSchema, {
            sequence,
            request: create(PlaceRequestSchema, request),
            traceContext: traceContextOf(),
          }),
        );
      });
    },
    close() {
      isClosed = true;
      if (stream) fail(stream, new ConnectError("the balancer is stopping", Code.Unavailable));
    },
  };
}
