// The Coordinator gRPC service: worker sessions, placement commits, the
// cluster watch and waiting for a task, as thin shells over Coordinator.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  Coordinator as CoordinatorService,
  TaskState,
  WaitTaskResponseSchema,
  type Task,
  type WorkerSessionRequest,
  type WorkerSessionResponseSchema,
  validateTaskSpec,
} from "../../libs/contracts/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { isFinal } from "../../libs/ledger/index.js";
import {
  Code,
  ConnectError,
  deadlineExceeded,
  invalidArgument,
  notFound,
  toConnectError,
  unavailable,
} from "../../libs/rpc/index.js";
import { contextFrom, inSpan, traceContextOf } from "../../libs/telemetry/index.js";
import type { Coordinator } from "./coordinator.js";
import { OPEN_JOIN_GATE, type JoinGate } from "./join-gate.js";
import { servePlaceStream } from "./place-stream.js";

/** Placements one PlaceStream works on at once (a balancer's Assigns in flight). */
const PLACE_STREAM_WINDOW = 4096;

export function coordinatorService(
  coordinator: Coordinator,
  options: { logger: Logger; maxPayloadBytes: number; joinGate?: JoinGate },
): ServiceImpl<typeof CoordinatorService> {
  const { logger } = options;
  return {
    async *workerSession(
      requests: AsyncIterable<WorkerSessionRequest>,
      ctx: HandlerContext,
    ): AsyncIterable<MessageInitShape<typeof WorkerSessionResponseSchema>> {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) return;
      if (first.value.message.case !== "register")
        throw invalidArgument("message", "the first message of a worker session must be register");
      // A worker that may not join never registers, so it never sees a task.
      const release = await (options.joinGate ?? OPEN_JOIN_GATE).admit(
        ctx.requestHeader.get("authorization"),
        first.value.message.value,
      );
      let joined: ReturnType<Coordinator["register"]>;
      try {
        joined = coordinator.register(first.value.message.value);
      } catch (error) {
        release();
        throw error;
      }
      const { session, registered } = joined;
      // A call dropped at this first answer ends here: its session ends too.
      let isDropped = true;
      try {
        yield { message: { case: "registered", value: registered } };
        isDropped = false;
      } finally {
        if (isDropped) {
          coordinator.sessionEnded(session);
          session.outbound.close();
          release();
        }
      }
      const reading = (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          const message = next.value.message;
          switch (message.case) {
            case "heartbeat":
              coordinator.heartbeat(session, message.value);
              break;
            case "taskUpdate":
              coordinator.taskUpdated(session, message.value);
              break;
            case "taskResult": {
              const result = message.value;
              await inSpan(
                "task.result",
                {
                  parent: contextFrom(result.traceContext),
                  attributes: {
                    "scalemesh.task_id": result.taskId,
                    "scalemesh.worker_id": session.workerId,
                    "scalemesh.succeeded": result.succeeded,
                  },
                },
                async () => {
                  coordinator.taskFinished(session, result);
                },
              );
              break;
            }
            case "register":
              logger.warn(
                { workerId: session.workerId },
                "ignored a second register on an open session",
              );
              break;
            case undefined:
              break;
            default: {
              const unknown: never = message;
              logger.warn({ message: unknown }, "unknown worker session message");
            }
          }
        }
      })()
        .catch((error: unknown) => {
          if (!ctx.signal.aborted)
            logger.warn(
              { workerId: session.workerId, err: toConnectError(error).rawMessage },
              "worker session read failed",
            );
        })
        .finally(() => {
          coordinator.sessionEnded(session);
          session.outbound.close();
          release();
        });
      ctx.signal.addEventListener("abort", () => session.outbound.close(), { once: true });
      for await (const message of session.outbound) yield message;
      // The coordinator closed the session (worker declared dead, superseded,
      // drained, shutting down): end the call now rather than wait for the
      // worker to hang up, so a worker that was only frozen notices, reconnects
      // and registers afresh. The reader stops when the call's signal aborts.
      void reading;
    },

    async place(request, ctx) {
      const invalid = validateTaskSpec(request.task, { maxPayloadBytes: options.maxPayloadBytes });
      if (invalid) throw invalid;
      if ((ctx.timeoutMs() ?? 1) <= 0)
        throw deadlineExceeded("the call's deadline passed before the task was placed");
      return coordinator.place(
        request.task as NonNullable<typeof request.task>,
        request.workerId,
        traceContextOf(),
      );
    },

    placeStream(batches) {
      return servePlaceStream(batches, {
        maxPayloadBytes: options.maxPayloadBytes,
        window: PLACE_STREAM_WINDOW,
        place: (task, workerId, traceContext) => coordinator.place(task, workerId, traceContext),
        whenFinal: (taskId, wake) => {
          const record = coordinator.ledger.get(taskId);
          if (record && isFinal(record.task.state)) {
            wake(record.task);
            return () => {};
          }
          return coordinator.whenFinal(taskId, (finished) => wake(finished.task));
        },
      });
    },

    async *watchCluster(_request, ctx) {
      const queue = coordinator.watch.subscribe();
      ctx.signal.addEventListener("abort", () => coordinator.watch.unsubscribe(queue), {
        once: true,
      });
      try {
        for await (const event of queue) yield event;
      } finally {
        coordinator.watch.unsubscribe(queue);
      }
      if (!ctx.signal.aborted) throw unavailable("coordinator is shutting down");
    },

    async waitTask(request, ctx) {
      if (request.taskId === "") throw invalidArgument("task_id", "is required");
      const task = await waitForFinal(coordinator, request.taskId, ctx.signal);
      return create(WaitTaskResponseSchema, { task });
    },
  };
}

/** Resolves with the task once it is final; rejects when the call ends first. */
export function waitForFinal(
  coordinator: Coordinator,
  taskId: string,
  signal: AbortSignal,
): Promise<Task> {
  const record = coordinator.ledger.get(taskId);
  if (!record) return Promise.reject(notFound(`task ${taskId} does not exist`));
  if (isFinal(record.task.state)) return Promise.resolve(record.task);
  return new Promise<Task>((resolve, reject) => {
    const stopListening = coordinator.whenFinal(taskId, (finished) => {
      cleanup();
      resolve(finished.task);
    });
    const onAbort = (): void => {
      cleanup();
      // A server shutting down says so (retryable); otherwise the deadline passed.
      const reason: unknown = signal.reason;
      reject(
        reason instanceof ConnectError && reason.code === Code.Unavailable
          ? reason
          : deadlineExceeded(
              `task ${taskId} is still ${TaskState[record.task.state]} when the call's deadline passed`,
            ),
      );
    };
    const cleanup = (): void => {
      stopListening();
      signal.removeEventListener("abort", onAbort);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
