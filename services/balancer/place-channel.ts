// The balancer's placements, over one PlaceStream to the coordinator instead
// of one Place call each: the placements asked for in one turn leave as one
// message, and answers come back several to a message. A placement waits for
// its own answer, its own deadline and its own signal; when the stream
// breaks, every placement still waiting is refused UNAVAILABLE (as a broken
// Place call would be) and the next one opens a new stream. A placement may
// also wait for its task's result on the same stream (await_result).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  PlaceItemSchema,
  PlaceRequestSchema,
  type PlaceItem,
  type PlaceStreamResponse,
  type Coordinator,
  type PlaceResponse,
  type PlaceStreamRequestSchema,
  type Task,
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

interface Waiting<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: ConnectError) => void;
}

export interface PlaceBounds {
  readonly timeoutMs: number | undefined;
  readonly signal?: AbortSignal;
  /**
   * Also wait for the result on the same stream: called, before the placement
   * resolves, with a promise of the final task (within the same deadline and signal).
   */
  readonly onFinished?: (finished: Promise<Task>) => void;
}

export interface PlaceChannel {
  /** Places one task; rejects with the coordinator's status for it, or UNAVAILABLE when the stream broke. */
  place(request: PlaceInit, bounds: PlaceBounds): Promise<PlaceResponse>;
  close(): void;
}

interface OpenStream {
  readonly client: RpcClient<typeof Coordinator>;
  readonly outbound: AsyncQueue<Batch>;
  readonly waiting: Map<bigint, Waiting<PlaceResponse>>;
  /** Placed items whose caller waits for the final task. */
  readonly finishing: Map<bigint, Waiting<Task>>;
  /** Asked for this turn, not sent yet. */
  unsent: PlaceItem[];
}

const cancelled = (): ConnectError => new ConnectError("the call was cancelled", Code.Canceled);

/**
 * Why a caller's signal aborted, as its status: the call's own deadline
 * (the handler's signal aborts with DEADLINE_EXCEEDED then) stays a
 * deadline, a client that hung up is CANCELLED.
 */
const abortedAs = (signal: AbortSignal | undefined): ConnectError =>
  signal?.reason instanceof ConnectError ? signal.reason : cancelled();

/**
 * Registers a waiter for `sequence` in `map`, refused when the deadline
 * (`deadlineAtMs`) passes or the signal aborts; whoever answers first wins.
 */
function waitFor<T>(
  map: Map<bigint, Waiting<T>>,
  sequence: bigint,
  bounds: { deadlineAtMs: number | undefined; signal?: AbortSignal },
  deadlineError: () => ConnectError,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = (error: ConnectError): void => {
      if (!map.delete(sequence)) return;
      cleanup();
      reject(error);
    };
    const onAbort = (): void => giveUp(abortedAs(bounds.signal));
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      bounds.signal?.removeEventListener("abort", onAbort);
    };
    map.set(sequence, {
      resolve: (value) => (map.delete(sequence), cleanup(), resolve(value)),
      reject: (error) => (map.delete(sequence), cleanup(), reject(error)),
    });
    if (bounds.deadlineAtMs !== undefined)
      timer = setTimeout(
        () => giveUp(deadlineError()),
        Math.max(0, bounds.deadlineAtMs - Date.now()),
      );
    bounds.signal?.addEventListener("abort", onAbort, { once: true });
  });
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
    const waiting = [...open.waiting.values(), ...open.finishing.values()];
    open.waiting.clear();
    open.finishing.clear();
    for (const waiter of waiting) waiter.reject(error);
  };

  const settle = (opened: OpenStream, outcome: PlaceStreamResponse["outcomes"][number]): void => {
    const { sequence } = outcome;
    if (outcome.outcome.case === "finished") {
      opened.finishing.get(sequence)?.resolve(outcome.outcome.value);
      return;
    }
    // No waiter: its caller gave up (deadline, cancel).
    const waiter = opened.waiting.get(sequence);
    if (outcome.outcome.case === "placed") waiter?.resolve(outcome.outcome.value);
    else if (outcome.outcome.case === "error")
      waiter?.reject(new ConnectError(outcome.outcome.value.message, outcome.outcome.value.code));
    else
      waiter?.reject(new ConnectError("the coordinator answered an empty outcome", Code.Internal));
  };

  const open = (): OpenStream => {
    const client = coordinator();
    if (stream && stream.client === client) return stream;
    if (stream) fail(stream, new ConnectError("the coordinator channel changed", Code.Unavailable));
    const opened: OpenStream = {
      client,
      outbound: createAsyncQueue<Batch>(),
      waiting: new Map(),
      finishing: new Map(),
      unsent: [],
    };
    stream = opened;
    void (async () => {
      try {
        for await (const response of client.placeStream(opened.outbound))
          for (const outcome of response.outcomes) settle(opened, outcome);
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
    async place(request, bounds) {
      if (isClosed) throw new ConnectError("the balancer is stopping", Code.Unavailable);
      if (bounds.signal?.aborted) throw abortedAs(bounds.signal);
      if (bounds.timeoutMs !== undefined && bounds.timeoutMs <= 0)
        throw new ConnectError(
          "the call's deadline passed before the task was placed",
          Code.DeadlineExceeded,
        );
      const current = open();
      const sequence = nextSequence;
      nextSequence += 1n;
      const limits = {
        deadlineAtMs: bounds.timeoutMs === undefined ? undefined : Date.now() + bounds.timeoutMs,
        signal: bounds.signal,
      };
      const placing = waitFor(
        current.waiting,
        sequence,
        limits,
        () =>
          new ConnectError("deadline exceeded waiting for the coordinator", Code.DeadlineExceeded),
      );
      if (current.unsent.length === 0) setImmediate(flush, current);
      current.unsent.push(
        create(PlaceItemSchema, {
          sequence,
          request: create(PlaceRequestSchema, request),
          traceContext: traceContextOf(),
          awaitResult: bounds.onFinished !== undefined,
        }),
      );
      // The wait for the result starts with the placement, so a result in
      // the placement's own message finds it; a refused placement ends it.
      const finished = bounds.onFinished
        ? waitFor(
            current.finishing,
            sequence,
            limits,
            () =>
              new ConnectError(
                `task ${request.task?.taskId ?? ""} did not finish within the call's deadline`,
                Code.DeadlineExceeded,
              ),
          )
        : undefined;
      // Whoever awaits it hears the outcome; an unawaited one is no crash.
      finished?.catch(() => undefined);
      let placed: PlaceResponse;
      try {
        placed = await placing;
      } catch (error) {
        current.finishing.get(sequence)?.reject(toConnectError(error));
        throw error;
      }
      if (finished) bounds.onFinished?.(finished);
      return placed;
    },
    close() {
      isClosed = true;
      if (stream) fail(stream, new ConnectError("the balancer is stopping", Code.Unavailable));
    },
  };
}
