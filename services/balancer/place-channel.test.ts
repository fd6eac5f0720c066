import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  PlaceResponseSchema,
  PlaceStreamResponseSchema,
  TaskState,
  type Coordinator,
  type PlaceStreamRequest,
  type PlaceStreamResponse,
} from "../../libs/contracts/index.js";
import { Code, ConnectError, type RpcClient } from "../../libs/rpc/index.js";
import { createPlaceChannel } from "./place-channel.js";

/**
 * A coordinator whose PlaceStream the test drives: it records every batch,
 * answers each item by `answer` (a worker id places it, an Error refuses it),
 * and can break the stream.
 */
function fakeCoordinator(answer: (taskId: string) => string | ConnectError) {
  const batches: string[][] = [];
  let streams = 0;
  let breakStream: ((error: Error) => void) | undefined;
  const client = {
    placeStream(requests: AsyncIterable<PlaceStreamRequest>): AsyncIterable<PlaceStreamResponse> {
      streams += 1;
      const broken = new Promise<never>((_, reject) => (breakStream = reject));
      return (async function* () {
        const iterator = requests[Symbol.asyncIterator]();
        for (;;) {
          const next = await Promise.race([iterator.next(), broken]);
          if (next.done) return;
          batches.push(next.value.items.map((item) => item.request?.task?.taskId ?? ""));
          // An awaited item that is already final is answered twice in one message.
          const finished = next.value.items
            .filter((item) => item.awaitResult)
            .map((item) => ({
              sequence: item.sequence,
              outcome: {
                case: "finished" as const,
                value: { spec: { taskId: item.request?.task?.taskId }, state: TaskState.SUCCEEDED },
              },
            }));
          yield create(PlaceStreamResponseSchema, {
            outcomes: [
              ...next.value.items.map((item) => {
                const taskId = item.request?.task?.taskId ?? "";
                const verdict = answer(taskId);
                return typeof verdict === "string"
                  ? {
                      sequence: item.sequence,
                      outcome: {
                        case: "placed" as const,
                        value: create(PlaceResponseSchema, {
                          task: { spec: { taskId }, workerId: verdict, state: TaskState.ASSIGNED },
                        }),
                      },
                    }
                  : {
                      sequence: item.sequence,
                      outcome: {
                        case: "error" as const,
                        value: { code: verdict.code, message: verdict.rawMessage },
                      },
                    };
              }),
              ...finished,
            ],
          });
        }
      })();
    },
  } as unknown as RpcClient<typeof Coordinator>;
  return {
    client,
    batches,
    streams: () => streams,
    breakStream: (error: Error) => breakStream?.(error),
  };
}

const place = (taskId: string) => ({ task: { taskId }, workerId: "w1" });
const noBounds = { timeoutMs: undefined };

describe("PlaceChannel", () => {
  it("sends the placements of one turn as one message and answers each by its sequence", async () => {
    const fake = fakeCoordinator((taskId) =>
      taskId === "full" ? new ConnectError("worker w1 is full", Code.FailedPrecondition) : "w1",
    );
    const channel = createPlaceChannel(
      () => fake.client,
      (e) => e,
    );
    const results = await Promise.allSettled([
      channel.place(place("a"), noBounds),
      channel.place(place("full"), noBounds),
      channel.place(place("b"), noBounds),
    ]);
    expect(fake.batches).toEqual([["a", "full", "b"]]);
    expect(results[0]).toMatchObject({ status: "fulfilled" });
    expect(results[0]?.status === "fulfilled" && results[0].value.task?.spec?.taskId).toBe("a");
    expect(results[1]).toMatchObject({ status: "rejected" });
    const refused = results[1]?.status === "rejected" ? (results[1].reason as ConnectError) : null;
    expect(refused?.code).toBe(Code.FailedPrecondition);
    expect(refused?.rawMessage).toBe("worker w1 is full");
    expect(results[2]?.status === "fulfilled" && results[2].value.task?.spec?.taskId).toBe("b");
    // A later turn is a new message on the same stream.
    await channel.place(place("c"), noBounds);
    expect(fake.batches).toEqual([["a", "full", "b"], ["c"]]);
    expect(fake.streams()).toBe(1);
    channel.close();
  });

  it("refuses what waits when the stream breaks, and opens a new one for the next", async () => {
    let hold = true;
    const fake = fakeCoordinator(() => "w1");
    const slow = {
      placeStream: (requests: AsyncIterable<PlaceStreamRequest>) =>
        hold
          ? (async function* () {
              for await (const _ of requests) await new Promise(() => {});
              yield create(PlaceStreamResponseSchema, {});
            })()
          : fake.client.placeStream(requests),
    } as unknown as RpcClient<typeof Coordinator>;
    const channel = createPlaceChannel(
      () => (hold ? slow : fake.client),
      (e) => new ConnectError(`described: ${e.rawMessage}`, e.code),
    );
    const waiting = channel.place(place("lost"), noBounds);
    await new Promise((resolve) => setImmediate(resolve));
    hold = false;
    // The client changed (as after a re-resolve): the old stream's waiters are refused.
    const lost = expect(waiting).rejects.toMatchObject({ code: Code.Unavailable });
    const next = await channel.place(place("next"), noBounds);
    await lost;
    expect(next.task?.spec?.taskId).toBe("next");
    // A stream that fails refuses its waiters with the described error.
    const pending = channel.place(place("x"), noBounds);
    fake.breakStream(new ConnectError("No connection established", Code.Unavailable));
    await expect(pending).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: "described: No connection established",
    });
    await expect(channel.place(place("y"), noBounds)).resolves.toMatchObject({
      task: { spec: { taskId: "y" } },
    });
    expect(fake.streams()).toBe(2);
    channel.close();
  });

  it("does not send a placement whose caller gave up before it left", async () => {
    const fake = fakeCoordinator(() => "w1");
    const channel = createPlaceChannel(
      () => fake.client,
      (e) => e,
    );
    const cancelled = new AbortController();
    const gaveUp = channel.place(place("cancelled"), {
      timeoutMs: undefined,
      signal: cancelled.signal,
    });
    cancelled.abort();
    // A handler's signal that aborts for the call's deadline keeps it a deadline.
    const pastDeadline = new AbortController();
    const timedOut = channel.place(place("timed-out"), {
      timeoutMs: undefined,
      signal: pastDeadline.signal,
    });
    pastDeadline.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    const expired = channel.place(place("expired"), { timeoutMs: 0 });
    const kept = channel.place(place("kept"), noBounds);
    await expect(gaveUp).rejects.toMatchObject({ code: Code.Canceled });
    await expect(timedOut).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    await expect(expired).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    await kept;
    expect(fake.batches).toEqual([["kept"]]);
    channel.close();
    await expect(channel.place(place("late"), noBounds)).rejects.toMatchObject({
      code: Code.Unavailable,
    });
  });

  it("carries the result of an awaited placement on the same stream, even in the placement's own message", async () => {
    const fake = fakeCoordinator(() => "w1");
    const channel = createPlaceChannel(
      () => fake.client,
      (e) => e,
    );
    let finished: Promise<unknown> | undefined;
    const placed = await channel.place(place("awaited"), {
      timeoutMs: 5_000,
      onFinished: (promise) => (finished = promise),
    });
    expect(placed.task?.spec?.taskId).toBe("awaited");
    await expect(finished).resolves.toMatchObject({
      spec: { taskId: "awaited" },
      state: TaskState.SUCCEEDED,
    });
    channel.close();
  });
});
