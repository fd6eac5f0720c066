// The Balancer service: Assign picks a worker from the local cluster view
// (filter -> score -> pick), commits with the coordinator's Place, and on a
// conflict tries the next candidate; AwaitTask waits for the final state.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { STRATEGY_NAMES, isStrategyName, type PlacementStack } from "../../libs/balancing/index.js";
import {
  AssignResponseSchema,
  Balancer,
  Coordinator,
  TaskSpecSchema,
  type PlaceResponse,
  type TaskSpec,
} from "../../libs/contracts/index.js";
import { validateTaskSpec } from "../../libs/ledger/index.js";
import { Code, ConnectError, invalidArgument, toConnectError, unavailable, type RpcClient } from "../../libs/rpc/index.js";
import type { ClusterView } from "./cluster-view.js";

export interface BalancerDeps {
  readonly view: ClusterView;
  readonly stack: PlacementStack;
  readonly coordinator: () => RpcClient<typeof Coordinator>;
  readonly coordinatorUri: string;
  readonly placeAttempts: number;
  readonly maxPayloadBytes: number;
  readonly logger: Logger;
}

// Place answers these when the chosen worker cannot take the task any more:
// another balancer filled it, it started draining, or it left. Try the next.
const CONFLICTS = new Set([Code.FailedPrecondition, Code.NotFound]);

export function balancerService(deps: BalancerDeps): ServiceImpl<typeof Balancer> {
  const place = async (spec: TaskSpec, workerId: string, ctx: HandlerContext): Promise<PlaceResponse> => {
    try {
      return await deps.coordinator().place({ task: spec, workerId, viewRevision: deps.view.revision }, { timeoutMs: remaining(ctx) });
    } catch (error) {
      const status = toConnectError(error);
      if (status.code === Code.Unavailable && /No connection|ECONNREFUSED|connect/i.test(status.rawMessage)) {
        throw unavailable(`coordinator at ${deps.coordinatorUri} is unreachable: ${status.rawMessage}`);
      }
      throw status;
    }
  };

  return {
    async assign(request, ctx) {
      const invalid = validateTaskSpec(request.task, { maxPayloadBytes: deps.maxPayloadBytes });
      if (invalid) throw invalid;
      const strategy = request.strategy || deps.stack.defaultStrategy;
      if (!isStrategyName(strategy)) throw invalidArgument("strategy", `"${request.strategy}" is not one of ${STRATEGY_NAMES.join(", ")}`);
      if (!deps.view.isSynced) throw unavailable(`no cluster view yet: the coordinator at ${deps.coordinatorUri} has not answered; retry shortly`);
      const given = request.task as TaskSpec;
      const spec = given.taskId === "" ? create(TaskSpecSchema, { ...given, taskId: randomUUID() }) : given;
      const ranking = deps.stack.rank(deps.view.candidates(), { taskId: spec.taskId, routingKey: spec.routingKey, requiredCapabilities: spec.requiredCapabilities, preferredRegion: spec.preferredRegion }, strategy);
      const tried: string[] = [];
      for (const candidate of ranking.ranked.slice(0, deps.placeAttempts)) {
        const workerId = candidate.worker.workerId;
        try {
          const placed = await place(spec, workerId, ctx);
          deps.view.notePlaced(workerId);
          return respond(placed, ranking.strategy, tried.length === 0 ? `chosen by ${ranking.strategy}` : `chosen by ${ranking.strategy} after conflicts on ${tried.join(", ")}`);
        } catch (error) {
          const status = toConnectError(error);
          if (!CONFLICTS.has(status.code)) throw status;
          deps.view.noteConflict(workerId);
          tried.push(workerId);
          deps.logger.debug({ taskId: spec.taskId, workerId, reason: status.rawMessage }, "placement conflict; trying the next candidate");
        }
      }
      // No candidate took it: let the coordinator place it from its own view,
      // queue it until a slot frees, or refuse with the reason.
      const placed = await place(spec, "", ctx);
      const why = ranking.ranked.length === 0 ? "no worker in this balancer's view had room" : `conflicts on ${tried.join(", ")}`;
      return respond(placed, ranking.strategy, placed.task?.workerId ? `placed by the coordinator (${why})` : `queued: ${why}`);
    },

    async awaitTask(request, ctx) {
      if (request.taskId === "") throw invalidArgument("task_id", "is required");
      const timeoutMs = remaining(ctx) ?? 3_600_000;
      try {
        const response = await deps.coordinator().waitTask({ taskId: request.taskId }, { timeoutMs, signal: ctx.signal });
        return { task: response.task };
      } catch (error) {
        const status = toConnectError(error);
        if (status.code === Code.DeadlineExceeded || status.code === Code.Canceled) {
          throw new ConnectError(`task ${request.taskId} did not finish within the call's deadline`, Code.DeadlineExceeded);
        }
        throw status;
      }
    },
  };
}

function respond(placed: PlaceResponse, strategy: string, reason: string) {
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

function remaining(ctx: HandlerContext): number | undefined {
  const ms = ctx.timeoutMs();
  return ms === undefined ? undefined : Math.max(1, ms);
}
