// Operator commands against the coordinator's Admin API: tasks, cordon,
// uncordon, cancel, retry (drain and purge have files of their own: they wait).
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ListTasksResponseSchema,
  TaskSchema,
  TaskState,
  WorkerStatusSchema,
  type Task,
} from "../../libs/contracts/index.js";
import { withAdminClient, type AdminClient, type AdminTarget } from "./admin-client.js";
import { ago, describeWorker, table } from "./format.js";
import type { OutputFormat } from "./option-parsers.js";
import { documentOf, readingText, type Reading } from "./reading.js";
import { CliUsageError } from "./usage-error.js";

export async function cordonAction(
  target: AdminTarget,
  action: "cordon" | "uncordon",
  workerId: string,
  format: OutputFormat,
  out: (text: string) => void,
): Promise<void> {
  await withAdminClient(target, async (client) => {
    const { worker } =
      action === "cordon"
        ? await client.cordonWorker({ workerId })
        : await client.uncordonWorker({ workerId });
    out(
      readingText(
        {
          document: { worker: worker ? documentOf(WorkerStatusSchema, worker) : null },
          table: describeWorker(worker),
        },
        format,
      ),
    );
  });
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

export interface TaskFilter {
  readonly state?: TaskState;
  readonly workerId?: string;
  /** Measured back from each reading, so a watched list keeps to the age asked for. */
  readonly olderThanMs?: number;
  readonly limit: number;
}

export async function readTasks(
  client: AdminClient,
  filter: TaskFilter,
  signal?: AbortSignal,
): Promise<Reading> {
  const response = await client.listTasks(
    {
      state: filter.state,
      workerId: filter.workerId ?? "",
      pageSize: filter.limit,
      createdBefore:
        filter.olderThanMs === undefined
          ? undefined
          : timestampFromMs(Date.now() - filter.olderThanMs),
    },
    { signal },
  );
  const document = documentOf(ListTasksResponseSchema, response);
  if (response.tasks.length === 0) return { document, table: "no tasks match" };
  const now = Date.now();
  return {
    document,
    table: [
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
      ...(response.nextPageToken ? ["(more: raise --limit, up to 1000)"] : []),
    ].join("\n"),
  };
}

export async function taskAction(
  target: AdminTarget,
  action: "cancel" | "retry",
  request: { readonly taskId: string; readonly reason: string; readonly format: OutputFormat },
  out: (text: string) => void,
): Promise<void> {
  await withAdminClient(target, async (client) => {
    const { task } =
      action === "cancel"
        ? await client.cancelTask({ taskId: request.taskId, reason: request.reason })
        : await client.retryTask({ taskId: request.taskId });
    out(
      readingText(
        {
          document: { task: task ? documentOf(TaskSchema, task) : null },
          table: `task ${request.taskId} is ${(TaskState[task?.state ?? 0] ?? "?").toLowerCase()}, attempt ${task?.attempt ?? "?"}`,
        },
        request.format,
      ),
    );
  });
}
