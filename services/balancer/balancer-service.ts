// The Balancer service: Assign picks a worker from the local cluster view
// (filter -> score -> pick), commits with the coordinator's Place, and on a
// conflict tries the next candidate; AssignStream does the same for a stream
// of requests; Route answers where a key would go without placing anything
// (a ranking that is never committed changes no strategy's state);
// AwaitTask waits for the final state; an Assign (or stream item) with
// await_result waits for it on the same call.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Admission, ClientLimiter } from "../../libs/auth/client-limits.js";
import {
  STRATEGY_NAMES,
  isStrategyName,
  placementRequestOf,
  type PlacementStack,
  type StrategyName,
} from "../../libs/balancing/index.js";
import {
  AssignResponseSchema,
  AssignStreamResponseSchema,
  Balancer,
  Coordinator,
  RouteResponseSchema,
  TaskSpecSchema,
  type AssignRequest,
  type AssignResponse,
  type AssignStreamRequest,
  type PlaceResponse,
  type Task,
  type TaskSpec,
  validateTaskSpec,
} from "../../libs/contracts/index.js";
import {
  Code,
  ConnectError,
  createAsyncQueue,
  invalidArgument,
  toConnectError,
  unavailable,
  type RpcClient,
} from "../../libs/rpc/index.js";
import type { ClusterView } from "./cluster-view.js";
import { placementCountersOf } from "./balancer-metrics.js";
import { createPlaceChannel, type PlaceChannel } from "./place-channel.js";

export interface BalancerDeps {
  readonly view: ClusterView;
  readonly stack: PlacementStack;
  readonly coordinator: () => RpcClient<typeof Coordinator>;
  readonly coordinatorUri: string;
  /** How placements reach the coordinator; by default one PlaceStream (place-channel.ts). */
  readonly placements?: PlaceChannel;
  readonly placeAttempts: number;
  readonly maxPayloadBytes: number;
  readonly logger: Logger;
  /** Items of one AssignStream worked on at once; past it the stream is not read. */
  readonly streamWindow?: number;
  /** Deadline of each AssignStream item when the stream has none. */
  readonly itemDeadlineMs?: number;
  /** Told when a placement was ranked by the predictive strategy (the view then keeps its load forecasts fresh). */
  readonly onPredictiveRank?: () => void;
  /** Per-client limits on Assign (each AssignStream item counts as one). */
  readonly limiter?: ClientLimiter;
  /** Who a call is from, for the limits. */
  readonly clientOf?: (ctx: HandlerContext) => string;
}

// Place answers these when the chosen worker cannot take the task any more:
// another balancer filled it, it started draining, or it left. Try the next.
const CONFLICTS = new Set([Code.FailedPrecondition, Code.NotFound]);
/** Route names the best worker and this many next-best. */
const ROUTE_ALTERNATIVES = 3;

/** What one placement needs from its call: a deadline and a way to learn it was abandoned. */
interface CallBounds {
  readonly timeoutMs: number | undefined;
  readonly signal?: AbortSignal;
  /** Wait for the result on the placement stream too (see PlaceBounds). */
  readonly onFinished?: (finished: Promise<Task>) => void;
}

export function balancerService(deps: BalancerDeps): ServiceImpl<typeof Balancer> {
  const strategyOf = (requested: string, field: string): StrategyName => {
    const strategy = requested || deps.stack.defaultStrategy;
    if (!isStrategyName(strategy))
      throw invalidArgument(field, `"${requested}" is not one of ${STRATEGY_NAMES.join(", ")}`);
    return strategy;
  };
  const requireView = (): void => {
    if (!deps.view.isSynced)
      throw unavailable(
        `no cluster view yet: the coordinator at ${deps.coordinatorUri} has not answered; retry shortly`,
      );
  };

  // A broken connection says which coordinator could not be reached.
  const describe = (status: ConnectError): ConnectError =>
    status.code === Code.Unavailable &&
    /No connection|ECONNREFUSED|connect/i.test(status.rawMessage)
      ? unavailable(`coordinator at ${deps.coordinatorUri} is unreachable: ${status.rawMessage}`)
      : status;
  const placements = deps.placements ?? createPlaceChannel(deps.coordinator, describe);

  // The channel describes a broken connection where it sees one (once).
  const place = (spec: TaskSpec, workerId: string, bounds: CallBounds): Promise<PlaceResponse> =>
    placements.place({ task: spec, workerId, viewRevision: deps.view.revision }, bounds);

  const assignOne = async (request: AssignRequest, bounds: CallBounds): Promise<AssignResponse> => {
    const invalid = validateTaskSpec(request.task, { maxPayloadBytes: deps.maxPayloadBytes });
    if (invalid) throw invalid;
    const strategy = strategyOf(request.strategy, "strategy");
    requireView();
    const given = request.task as TaskSpec;
    const spec =
      given.taskId === "" ? create(TaskSpecSchema, { ...given, taskId: randomUUID() }) : given;
    const nowMs = Date.now();
    const ranking = deps.stack.rank(deps.view.candidates(), placementRequestOf(spec), strategy, {
      nowMs,
      health: deps.view.health(nowMs),
      limit: deps.placeAttempts,
    });
    if (ranking.strategy === "predictive") deps.onPredictiveRank?.();
    const counters = placementCountersOf(strategy);
    const tried: string[] = [];
    for (const candidate of ranking.ranked.slice(0, deps.placeAttempts)) {
      const workerId = candidate.worker.workerId;
      if (tried.length > 0) counters.retried();
      try {
        const placed = await place(spec, workerId, bounds);
        counters.ended(placed.existing ? "existing" : "placed");
        // Committed: now, and only now, the strategy may remember it (a repeat of an existing task placed nothing).
        if (!placed.existing) deps.stack.commit(ranking, workerId);
        deps.view.notePlaced(workerId);
        const why = candidate.note
          ? `chosen by ${ranking.strategy}: ${candidate.note}`
          : `chosen by ${ranking.strategy}`;
        return respond(
          placed,
          ranking.strategy,
          tried.length === 0 ? why : `${why}, after conflicts on ${tried.join(", ")}`,
        );
      } catch (error) {
        const status = toConnectError(error);
        if (!CONFLICTS.has(status.code)) {
          counters.ended("refused");
          throw status;
        }
        counters.conflict();
        deps.view.noteConflict(workerId);
        tried.push(workerId);
        deps.logger.debug(
          { taskId: spec.taskId, workerId, reason: status.rawMessage },
          "placement conflict; trying the next candidate",
        );
      }
    }
    // No candidate took it: let the coordinator place it from its own view,
    // queue it until a slot frees, or refuse with the reason.
    if (tried.length > 0) counters.retried();
    const placed = await place(spec, "", bounds).catch((error: unknown) => {
      counters.ended("refused");
      throw error;
    });
    const placedOn = placed.task?.workerId ?? "";
    counters.ended(
      placed.existing ? "existing" : placedOn !== "" ? "placed_by_coordinator" : "queued",
    );
    if (placedOn !== "" && !placed.existing) deps.stack.commit(ranking, placedOn);
    const why =
      ranking.ranked.length === 0
        ? "no worker in this balancer's view had room"
        : `conflicts on ${tried.join(", ")}`;
    return respond(
      placed,
      ranking.strategy,
      placedOn !== "" ? `placed by the coordinator (${why})` : `queued: ${placed.reason || why}`,
    );
  };

  /** The task once it is final, within `timeoutMs`; DEADLINE_EXCEEDED naming it otherwise. */
  const awaitFinal = async (
    taskId: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<Task> => {
    try {
      const response = await deps.coordinator().waitTask({ taskId }, { timeoutMs, signal });
      if (!response.task) throw unavailable(`the coordinator answered no task for ${taskId}`);
      return response.task;
    } catch (error) {
      const status = toConnectError(error);
      if (status.code === Code.DeadlineExceeded || status.code === Code.Canceled) {
        throw new ConnectError(
          `task ${taskId} did not finish within the call's deadline`,
          Code.DeadlineExceeded,
        );
      }
      throw status;
    }
  };

  /** One Assign's admission under the per-client limits; throws RESOURCE_EXHAUSTED over one. */
  const admit = (ctx: HandlerContext): Admission | undefined =>
    deps.limiter?.admit(deps.clientOf?.(ctx) ?? "anonymous");

  /** Assign, then (when asked) wait for the result on the same call. */
  const assignAndMaybeAwait = async (
    request: AssignRequest,
    bounds: { timeoutMs: number | undefined; signal: AbortSignal },
  ): Promise<AssignResponse> => {
    if (!request.awaitResult) return assignOne(request, bounds);
    const startedMs = Date.now();
    // The result comes on the placement stream, within the call's deadline.
    let finished: Promise<Task> | undefined;
    const assigned = await assignOne(request, {
      ...bounds,
      onFinished: (promise) => (finished = promise),
    });
    const leftMs =
      bounds.timeoutMs === undefined
        ? AWAIT_CEILING_MS
        : Math.max(1, bounds.timeoutMs - (Date.now() - startedMs));
    // A placement path that cannot carry the result (a test's plain Place) asks WaitTask.
    const final = await (finished ?? awaitFinal(assigned.taskId, leftMs, bounds.signal));
    return create(AssignResponseSchema, {
      ...assigned,
      workerId: final.workerId,
      attempt: final.attempt,
      state: final.state,
      result: final,
    });
  };

  return {
    async assign(request, ctx) {
      const admission = admit(ctx);
      try {
        return await assignAndMaybeAwait(request, {
          timeoutMs: remaining(ctx),
          signal: ctx.signal,
        });
      } finally {
        admission?.release();
      }
    },

    async *assignStream(requests: AsyncIterable<AssignStreamRequest>, ctx: HandlerContext) {
      const window = deps.streamWindow ?? 256;
      const responses = createAsyncQueue<MessageInitShape<typeof AssignStreamResponseSchema>>();
      let inFlight = 0;
      let wakeReader: (() => void) | undefined;
      const settle = (): void => {
        inFlight -= 1;
        const wake = wakeReader;
        wakeReader = undefined;
        wake?.();
      };
      // Reads while fewer than `window` items are in progress; a client that
      // sends faster meets HTTP/2 flow control once the read side stops.
      const reading = (async () => {
        for await (const item of requests) {
          while (inFlight >= window) await new Promise<void>((resolve) => (wakeReader = resolve));
          inFlight += 1;
          const sequence = item.sequence;
          const itemDeadline = remaining(ctx) ?? deps.itemDeadlineMs ?? 10_000;
          const request = item.request;
          const refuse = (error: unknown): void => {
            const status = toConnectError(error);
            responses.push({
              sequence,
              outcome: { case: "error", value: { code: status.code, message: status.rawMessage } },
            });
          };
          let admission: Admission | undefined;
          try {
            admission = admit(ctx);
          } catch (error) {
            refuse(error);
            settle();
            continue;
          }
          // An item that awaits its result stays in the window until it is final.
          const work = request
            ? assignOne(request, { timeoutMs: itemDeadline, signal: ctx.signal }).then(
                async (assigned) => {
                  responses.push({ sequence, outcome: { case: "assigned", value: assigned } });
                  if (!request.awaitResult) return;
                  const final = await awaitFinal(
                    assigned.taskId,
                    remaining(ctx) ?? AWAIT_CEILING_MS,
                    ctx.signal,
                  );
                  responses.push({ sequence, outcome: { case: "finished", value: final } });
                },
              )
            : Promise.reject(invalidArgument("request", "is required"));
          work.catch(refuse).finally(() => {
            admission?.release();
            settle();
          });
        }
        while (inFlight > 0) await new Promise<void>((resolve) => (wakeReader = resolve));
      })().finally(() => responses.close());
      for await (const response of responses) yield response;
      await reading;
    },

    route(request) {
      const strategy = strategyOf(request.strategy, "strategy");
      requireView();
      // Only asking: the ranking is never committed, so it leaves no trace.
      const nowMs = Date.now();
      const ranking = deps.stack.rank(
        deps.view.candidates(),
        placementRequestOf(request),
        strategy,
        { nowMs, health: deps.view.health(nowMs), limit: 1 + ROUTE_ALTERNATIVES },
      );
      if (ranking.strategy === "predictive") deps.onPredictiveRank?.();
      const best = ranking.ranked[0];
      if (!best) {
        const reasons = [...new Set(ranking.rejected.map((r) => r.reason))].join(", ");
        throw unavailable(
          `no worker can take a task like this right now${reasons ? ` (${reasons})` : ""}`,
        );
      }
      return create(RouteResponseSchema, {
        workerId: best.worker.workerId,
        workerAddress: best.worker.address,
        strategy: ranking.strategy,
        reason: best.note
          ? `chosen by ${ranking.strategy}: ${best.note}`
          : `chosen by ${ranking.strategy}`,
        alternativeWorkerIds: ranking.ranked
          .slice(1, 1 + ROUTE_ALTERNATIVES)
          .map((r) => r.worker.workerId),
      });
    },

    async awaitTask(request, ctx) {
      if (request.taskId === "") throw invalidArgument("task_id", "is required");
      return {
        task: await awaitFinal(request.taskId, remaining(ctx) ?? AWAIT_CEILING_MS, ctx.signal),
      };
    },
  };
}

function respond(placed: PlaceResponse, strategy: string, reason: string): AssignResponse {
  const task = placed.task;
  return create(AssignResponseSchema, {
    taskId: task?.spec?.taskId ?? "",
    workerId: task?.workerId ?? "",
    workerAddress: placed.workerAddress,
    attempt: task?.attempt ?? 0,
    state: task?.state,
    strategy,
    reason: placed.existing ? `existing task with the same id and content (${reason})` : reason,
  });
}

/** How long a wait for a result may last when the call set no deadline. */
const AWAIT_CEILING_MS = 3_600_000;

function remaining(ctx: HandlerContext): number | undefined {
  const ms = ctx.timeoutMs();
  return ms === undefined ? undefined : Math.max(1, ms);
}
