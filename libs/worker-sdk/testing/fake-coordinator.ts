// A stand-in coordinator for tests of worker code: serves WorkerSession on a
// real gRPC port, records what workers send, answers Register with
// Registered, acks results (unless told not to), and pushes the assignments,
// cancellations and acks a test asks for. Not a coordinator: no ledger, no
// placement.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { pino } from "pino";
import {
  AssignmentSchema,
  Coordinator,
  ResultAckSchema,
  TaskCancellationSchema,
  WorkerSessionResponseSchema,
  type WorkerSessionRequest,
  type WorkerSessionResponse,
} from "../../contracts/index.js";
import { createAsyncQueue, type AsyncQueue } from "../../rpc/async-queue.js";
import { Code } from "../../rpc/errors.js";
import { register, startRpcServer, type RpcServer } from "../../rpc/server.js";

export interface FakeCoordinatorOptions {
  readonly heartbeatIntervalMs?: number;
  readonly logger?: Logger;
  /** Port to listen on; 0 picks a free one. */
  readonly port?: number;
  /**
   * Acks every result as it arrives, as the coordinator does once a result is
   * durable (true by default); false leaves acks to ack(), or to nobody, like
   * a coordinator older than ResultAck.
   */
  readonly ackResults?: boolean;
}

export interface FakeCoordinator {
  readonly address: string;
  readonly port: number;
  /** Every message received, in order, across sessions. */
  readonly received: readonly WorkerSessionRequest[];
  /** Sessions opened so far. */
  readonly sessionCount: number;
  /** The first received message (from `fromIndex` on) that matches, waiting up to timeoutMs for it. */
  waitFor(
    predicate: (message: WorkerSessionRequest) => boolean,
    options?: { timeoutMs?: number; fromIndex?: number },
  ): Promise<WorkerSessionRequest>;
  /** Pushes an assignment down the newest session. */
  assign(assignment: MessageInitShape<typeof AssignmentSchema>): void;
  /** Pushes a cancellation down the newest session. */
  cancel(cancellation: MessageInitShape<typeof TaskCancellationSchema>): void;
  /** Pushes a result ack down the newest session. */
  ack(ack: MessageInitShape<typeof ResultAckSchema>): void;
  /** Fails every open session with UNAVAILABLE, as a lost connection would. */
  breakSessions(): void;
  stop(): Promise<void>;
}

type Outgoing = WorkerSessionResponse | ConnectError;

export async function startFakeCoordinator(
  options: FakeCoordinatorOptions = {},
): Promise<FakeCoordinator> {
  const logger = options.logger ?? pino({ level: "silent" });
  const received: WorkerSessionRequest[] = [];
  const listeners = new Set<() => void>();
  const sessions = new Set<AsyncQueue<Outgoing>>();
  let newest: AsyncQueue<Outgoing> | undefined;
  let sessionCount = 0;
  let epoch = 0n;

  const ackResults = options.ackResults ?? true;

  const pushToNewest = (message: WorkerSessionResponse["message"]): void => {
    if (!newest) throw new Error("no worker session is open");
    newest.push(create(WorkerSessionResponseSchema, { message }));
  };

  const record = (message: WorkerSessionRequest): void => {
    received.push(message);
    for (const listener of [...listeners]) listener();
  };

  const server: RpcServer = await startRpcServer({
    host: "127.0.0.1",
    port: options.port ?? 0,
    logger,
    shutdownGraceMs: 500,
    services: [
      register(Coordinator, {
        async *workerSession(requests) {
          const out = createAsyncQueue<Outgoing>();
          sessions.add(out);
          newest = out;
          sessionCount += 1;
          const reading = (async () => {
            for await (const request of requests) {
              record(request);
              if (request.message.case === "register") {
                epoch += 1n;
                out.push(
                  create(WorkerSessionResponseSchema, {
                    message: {
                      case: "registered",
                      value: {
                        workerId: request.message.value.worker?.workerId ?? "",
                        heartbeatInterval: durationFromMs(options.heartbeatIntervalMs ?? 100),
                        heartbeatTimeout: durationFromMs((options.heartbeatIntervalMs ?? 100) * 5),
                        sessionEpoch: epoch,
                      },
                    },
                  }),
                );
              }
              if (request.message.case === "taskResult" && ackResults) {
                const { taskId, attempt } = request.message.value;
                out.push(
                  create(WorkerSessionResponseSchema, {
                    message: { case: "resultAck", value: { taskId, attempt } },
                  }),
                );
              }
            }
          })();
          // The worker half-closing ends the session from our side too.
          reading.finally(() => out.close()).catch(() => undefined);
          try {
            for await (const message of out) {
              if (message instanceof ConnectError) throw message;
              yield message;
            }
          } finally {
            sessions.delete(out);
            if (newest === out) newest = undefined;
          }
        },
      }),
    ],
  });
  server.setServing(true);

  return {
    address: server.address,
    port: server.port,
    received,
    get sessionCount() {
      return sessionCount;
    },
    waitFor(predicate, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5000;
      const fromIndex = waitOptions.fromIndex ?? 0;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = received.slice(fromIndex).find(predicate);
          if (!found) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms; received: ${received.map((m) => m.message.case).join(", ")}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    assign(assignment) {
      pushToNewest({ case: "assignment", value: create(AssignmentSchema, assignment) });
    },
    cancel(cancellation) {
      pushToNewest({ case: "cancellation", value: create(TaskCancellationSchema, cancellation) });
    },
    ack(ack) {
      pushToNewest({ case: "resultAck", value: create(ResultAckSchema, ack) });
    },
    breakSessions() {
      for (const out of sessions)
        out.push(new ConnectError("fake coordinator dropped the session", Code.Unavailable));
    },
    stop: () => server.shutdown(),
  };
}
