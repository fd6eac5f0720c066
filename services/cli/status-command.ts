// `scalemesh status` and `scalemesh workers`: what the coordinator knows.
import { toJsonString } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  Admin,
  GetClusterStatusResponseSchema,
  ListWorkersResponseSchema,
  WorkerState,
} from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { checkedTarget } from "./endpoints.js";
import { ago, table } from "./format.js";
import { scalingLines } from "./scale-command.js";

export interface AdminTarget {
  readonly coordinator: string;
  readonly json?: boolean;
  readonly timeoutMs: number;
}

export async function showStatus(target: AdminTarget, out: (text: string) => void): Promise<void> {
  const client = createRpcClient(Admin, checkedTarget(target.coordinator, "--coordinator"), {
    defaultDeadlineMs: target.timeoutMs,
  });
  try {
    const status = await client.getClusterStatus({});
    if (target.json)
      return out(toJsonString(GetClusterStatusResponseSchema, status, { prettySpaces: 2 }));
    const scaling = await client.getScalingStatus({}).catch(() => undefined);
    const tasks =
      Object.entries(status.tasksByState)
        .map(([state, n]) => `${state.toLowerCase()} ${n}`)
        .join(", ") || "none";
    out(
      [
        `coordinator   ${target.coordinator} (version ${status.version}, up since ${status.startedAt ? new Date(timestampMs(status.startedAt)).toISOString() : "?"})`,
        `workers       ${status.workersAlive} alive, ${status.workersSuspect} suspect, ${status.workersDraining} draining, ${status.workersDead} dead`,
        `slots         ${status.busySlots}/${status.totalSlots} busy`,
        `tasks         ${tasks}`,
        `pending limit ${status.pendingQueueLimit}`,
        ...(scaling ? scalingLines(scaling) : []),
      ].join("\n"),
    );
  } finally {
    client.close();
  }
}

export async function showWorkers(
  target: AdminTarget & { all: boolean },
  out: (text: string) => void,
): Promise<void> {
  const client = createRpcClient(Admin, checkedTarget(target.coordinator, "--coordinator"), {
    defaultDeadlineMs: target.timeoutMs,
  });
  try {
    const response = await client.listWorkers({ includeDead: target.all });
    if (target.json)
      return out(toJsonString(ListWorkersResponseSchema, response, { prettySpaces: 2 }));
    if (response.workers.length === 0) return out("no workers registered");
    const now = Date.now();
    out(
      table(
        [
          "WORKER",
          "STATE",
          "SLOTS",
          "IN FLIGHT",
          "CPU",
          "REGION/ZONE",
          "CAPABILITIES",
          "HEARTBEAT",
          "DONE/FAILED",
        ],
        response.workers.map((w) => [
          w.spec?.workerId ?? "",
          `${(WorkerState[w.state] ?? "?").toLowerCase()}${w.cordoned ? ",cordoned" : ""}`,
          String(w.spec?.slots ?? 0),
          String(w.inFlight),
          `${Math.round(w.cpuUtilization * 100)}%`,
          `${w.spec?.region ?? ""}/${w.spec?.zone ?? ""}`,
          w.spec?.capabilities.join(",") || "-",
          w.lastHeartbeatAt ? ago(now - timestampMs(w.lastHeartbeatAt)) : "-",
          `${w.tasksSucceeded}/${w.tasksFailed}`,
        ]),
      ),
    );
  } finally {
    client.close();
  }
}
