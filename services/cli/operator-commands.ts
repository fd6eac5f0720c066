// Operator commands against the coordinator's Admin API: drain, cordon,
// uncordon, tasks, cancel, retry, purge.
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { toJsonString } from "@bufbuild/protobuf";
import {
  Admin,
  ListTasksResponseSchema,
  TaskState,
  WorkerState,
  type Task,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { checkedTarget } from "./endpoints.js";
import { ago, table } from "./format.js";
import { CliUsageError } from "./usage-error.js";
import type { AdminTarget } from "./status-command.js";

function adminClient(target: AdminTarget) {
  return createRpcClient(Admin, checkedTarget(target.coordinator, "--coordinator"), {
    defaultDeadlineMs: target.timeoutMs,
  });
}

function describeWorker(worker: WorkerStatus | undefined): string {
  if (!worker) return "?";
  const state = (WorkerState[worker.state] ?? "?").toLowerCase();
  return `worker ${worker.spec?.workerId} is ${worker.cordoned ? "cordoned, " : ""}${state} with ${worker.inFlight} task(s) in flight`;
}

export async function workerAction(
  target: AdminTarget,
  action: "drain" | "cordon" | "uncordon",
  workerId: string,
  out: (text: string) => void,
): Promise<void> {
  const client = adminClient(target);
  try {
    const response =
      action === "drain"
        ? await client.drainWorker({ workerId })
        : action === "cordon"
          ? await client.cordonWorker({ workerId })
          : await client.uncordonWorker({ workerId });
    out(describeWorker(response.worker));
    if (action === "drain")
      out("it takes nothing new, finishes and reports what it runs, then leaves");
  } finally {
    client.close();
  }
}

const STATE_NAMES = [
  "pending",
  "assigned",
  "running",
  "succeeded",
  "failed",
  "dead_lettered",
  "cancelled",
];

export function parseTaskState(text: string): TaskState {
  const state = TaskState[text.toUpperCase() as keyof typeof TaskState];
  if (state === undefined || typeof state !== "number" || state === TaskState.UNSPECIFIED) {
    throw new CliUsageError(`--state must be one of ${STATE_NAMES.join(", ")}, got "${text}"`);
  }
  return state;
}

/** "90s", "15m", "2h", "7d" -> milliseconds. */
export function parseAge(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!match)
    throw new CliUsageError(`${option} must be a duration like 90s, 15m, 2h or 7d, got "${text}"`);
  const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unitMs;
}

export async function listTasks(
  target: AdminTarget & {
    state?: TaskState;
    workerId?: string;
    olderThanMs?: number;
    limit: number;
  },
  out: (text: string) => void,
): Promise<void> {
  const client = adminClient(target);
  try {
    const response = await client.listTasks({
      state: target.state,
      workerId: target.workerId ?? "",
      pageSize: target.limit,
      createdBefore:
        target.olderThanMs === undefined
          ? undefined
          : timestampFromMs(Date.now() - target.olderThanMs),
    });
    if (target.json)
      return out(toJsonString(ListTasksResponseSchema, response, { prettySpaces: 2 }));
    if (response.tasks.length === 0) return out("no tasks match");
    const now = Date.now();
    out(
      table(
        ["TASK", "STATE", "ATTEMPT", "WORKER", "CREATED", "ERROR"],
        response.tasks.map((t: Task) => [
          t.spec?.taskId ?? "",
          (TaskState[t.state] ?? "?").toLowerCase(),
          String(t.attempt),
          t.workerId || "-",
          t.createdAt ? ago(now - timestampMs(t.createdAt)) : "-",
          t.error.slice(0, 60),
        ]),
      ),
    );
    if (response.nextPageToken) out(`(more: raise --limit, up to 1000)`);
  } finally {
    client.close();
  }
}

export async function taskAction(
  target: AdminTarget,
  action: "cancel" | "retry",
  taskId: string,
  reason: string,
  out: (text: string) => void,
): Promise<void> {
  const client = adminClient(target);
  try {
    const response =
      action === "cancel"
        ? await client.cancelTask({ taskId, reason })
        : await client.retryTask({ taskId });
    const task = response.task;
    out(
      `task ${taskId} is ${(TaskState[task?.state ?? 0] ?? "?").toLowerCase()}, attempt ${task?.attempt ?? "?"}`,
    );
  } finally {
    client.close();
  }
}

export async function purgeTasks(
  target: AdminTarget,
  olderThanMs: number,
  out: (text: string) => void,
): Promise<void> {
  const client = adminClient(target);
  try {
    const response = await client.purgeTasks({
      finishedBefore: timestampFromMs(Date.now() - olderThanMs),
    });
    out(
      `purged ${response.purged} final task(s) that finished more than ${olderThanMs / 1000} s ago`,
    );
  } finally {
    client.close();
  }
}
