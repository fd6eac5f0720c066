// The Admin service: what operators ask the coordinator (gRPC and Connect JSON).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Admin,
  GetClusterStatusResponseSchema,
  ListTasksResponseSchema,
  TaskState,
} from "../../libs/contracts/index.js";
import type { TaskLedger } from "../../libs/ledger/index.js";
import { invalidArgument, notFound } from "../../libs/rpc/index.js";
import { SCALEMESH_VERSION } from "../../libs/telemetry/index.js";
import type { Coordinator } from "./coordinator.js";
import type { scalingAdmin } from "./scaling-admin.js";

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/** What the Admin service reads of the tasks: the ledger, directly, not through the coordinator. */
export type TaskReads = Pick<TaskLedger, "get" | "list" | "countsByState">;

export interface AdminDeps {
  /** Worker reads and the operators' commands. */
  readonly coordinator: Pick<
    Coordinator,
    | "workerCounts"
    | "listWorkers"
    | "getWorker"
    | "settings"
    | "startedAtMs"
    | "retryTask"
    | "cancelTask"
    | "purgeFinishedBefore"
    | "drainWorker"
    | "setCordoned"
  >;
  readonly tasks: TaskReads;
  readonly scaling: ReturnType<typeof scalingAdmin>;
}

export function adminService({
  coordinator,
  tasks,
  scaling,
}: AdminDeps): ServiceImpl<typeof Admin> {
  return {
    ...scaling,
    getClusterStatus() {
      const counts = coordinator.workerCounts();
      const tasksByState: Record<string, bigint> = {};
      for (const [state, count] of tasks.countsByState())
        tasksByState[TaskState[state]] = BigInt(count);
      return create(GetClusterStatusResponseSchema, {
        workersAlive: counts.alive,
        workersSuspect: counts.suspect,
        workersDraining: counts.draining,
        workersDead: counts.dead,
        totalSlots: counts.totalSlots,
        busySlots: counts.busySlots,
        tasksByState,
        pendingQueueLimit: coordinator.settings.maxPendingTasks,
        startedAt: timestampFromMs(coordinator.startedAtMs),
        version: SCALEMESH_VERSION,
      });
    },

    listWorkers(request) {
      return { workers: coordinator.listWorkers(request.includeDead) };
    },

    getWorker(request) {
      if (request.workerId === "") throw invalidArgument("worker_id", "is required");
      const worker = coordinator.getWorker(request.workerId);
      if (!worker)
        throw notFound(
          `worker ${request.workerId} is not known (never registered, or dead and forgotten)`,
        );
      return { worker };
    },

    listTasks(request) {
      if (request.pageSize > MAX_PAGE_SIZE)
        throw invalidArgument(
          "page_size",
          `${request.pageSize} is over the limit of ${MAX_PAGE_SIZE}`,
        );
      const limit = request.pageSize || DEFAULT_PAGE_SIZE;
      const afterSequence = parsePageToken(request.pageToken);
      const records = tasks.list({
        state: request.state,
        workerId: request.workerId,
        afterSequence,
        createdBeforeMs: request.createdBefore ? timestampMs(request.createdBefore) : undefined,
        createdAfterMs: request.createdAfter ? timestampMs(request.createdAfter) : undefined,
        limit: limit + 1,
      });
      const page = records.slice(0, limit);
      const last = page.at(-1);
      return create(ListTasksResponseSchema, {
        tasks: page.map((r) => r.task),
        nextPageToken: records.length > limit && last ? `s${last.sequence}` : "",
      });
    },

    getTask(request) {
      if (request.taskId === "") throw invalidArgument("task_id", "is required");
      const record = tasks.get(request.taskId);
      if (!record) throw notFound(`task ${request.taskId} does not exist`);
      return { task: record.task };
    },

    async retryTask(request) {
      return { task: await coordinator.retryTask(request.taskId) };
    },

    async cancelTask(request) {
      return { task: await coordinator.cancelTask(request.taskId, request.reason) };
    },

    async purgeTasks(request) {
      if (!request.finishedBefore)
        throw invalidArgument(
          "finished_before",
          "is required (tasks that finished before this time are deleted)",
        );
      const cutoffMs = timestampMs(request.finishedBefore);
      if (cutoffMs > Date.now()) throw invalidArgument("finished_before", "is in the future");
      return { purged: BigInt(await coordinator.purgeFinishedBefore(cutoffMs)) };
    },

    drainWorker(request) {
      return { worker: coordinator.drainWorker(request.workerId) };
    },

    cordonWorker(request) {
      return { worker: coordinator.setCordoned(request.workerId, true) };
    },

    uncordonWorker(request) {
      return { worker: coordinator.setCordoned(request.workerId, false) };
    },
  };
}

function parsePageToken(token: string): number | undefined {
  if (token === "") return undefined;
  const sequence = /^s(\d+)$/.exec(token)?.[1];
  if (sequence === undefined)
    throw invalidArgument("page_token", "is not a token this server gave out");
  return Number(sequence);
}
