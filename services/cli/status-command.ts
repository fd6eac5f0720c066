// `scalemesh status` and `scalemesh workers`: what the coordinator knows.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  GetClusterStatusResponseSchema,
  GetScalingStatusResponseSchema,
  ListWorkersResponseSchema,
  WorkerState,
} from "../../libs/contracts/index.js";
import type { AdminClient } from "./admin-client.js";
import { ago, table } from "./format.js";
import { documentOf, type Reading } from "./reading.js";
import { scalingLines } from "./scale-command.js";

/** The cluster and, when the coordinator runs an autoscaler, its status: {"cluster": ..., "scaling": ...}. */
export async function readStatus(
  client: AdminClient,
  coordinator: string,
  signal?: AbortSignal,
): Promise<Reading> {
  const status = await client.getClusterStatus({}, { signal });
  const scaling = await client.getScalingStatus({}, { signal }).catch(() => undefined);
  const tasks =
    Object.entries(status.tasksByState)
      .map(([state, n]) => `${state.toLowerCase()} ${n}`)
      .join(", ") || "none";
  return {
    document: {
      cluster: documentOf(GetClusterStatusResponseSchema, status),
      ...(scaling ? { scaling: documentOf(GetScalingStatusResponseSchema, scaling) } : {}),
    },
    table: [
      `coordinator   ${coordinator} (version ${status.version}, up since ${status.startedAt ? new Date(timestampMs(status.startedAt)).toISOString() : "?"})`,
      `workers       ${status.workersAlive} alive, ${status.workersSuspect} suspect, ${status.workersDraining} draining, ${status.workersDead} dead`,
      `slots         ${status.busySlots}/${status.totalSlots} busy`,
      `tasks         ${tasks}`,
      `pending limit ${status.pendingQueueLimit}`,
      ...(scaling ? scalingLines(scaling) : []),
    ].join("\n"),
  };
}

export async function readWorkers(
  client: AdminClient,
  includeDead: boolean,
  signal?: AbortSignal,
): Promise<Reading> {
  const response = await client.listWorkers({ includeDead }, { signal });
  const document = documentOf(ListWorkersResponseSchema, response);
  if (response.workers.length === 0) return { document, table: "no workers registered" };
  const now = Date.now();
  return {
    document,
    table: table(
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
  };
}
