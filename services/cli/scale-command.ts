// `scalemesh scale`: the autoscaler from the command line. `scale 5` sets a
// manual target (and switches the autoscaler off), `scale --auto` switches
// it back on, `scale --history` shows its recent decisions; with no
// argument it prints the scaling status.
import { toJsonString } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  Admin,
  GetScalingHistoryResponseSchema,
  GetScalingStatusResponseSchema,
  type GetScalingStatusResponse,
} from "../../libs/contracts/index.js";
import { createRpcClient } from "../../libs/rpc/index.js";
import { checkedTarget } from "./endpoints.js";
import { table } from "./format.js";
import type { AdminTarget } from "./status-command.js";

export type ScaleRequest =
  | { readonly kind: "status" }
  | { readonly kind: "target"; readonly workers: number }
  | { readonly kind: "auto"; readonly isEnabled: boolean }
  | { readonly kind: "history"; readonly limit: number };

export async function scale(
  target: AdminTarget,
  request: ScaleRequest,
  out: (text: string) => void,
): Promise<void> {
  const client = createRpcClient(Admin, checkedTarget(target.coordinator, "--coordinator"), {
    defaultDeadlineMs: target.timeoutMs,
  });
  try {
    switch (request.kind) {
      case "status":
        return printStatus(await client.getScalingStatus({}), target, out);
      case "target":
        return printStatus(
          (await client.scaleWorkers({ workers: request.workers })).status,
          target,
          out,
        );
      case "auto":
        return printStatus(
          (await client.setAutoscaling({ enabled: request.isEnabled })).status,
          target,
          out,
        );
      case "history": {
        const history = await client.getScalingHistory({ pageSize: request.limit });
        if (target.json)
          return out(toJsonString(GetScalingHistoryResponseSchema, history, { prettySpaces: 2 }));
        if (history.events.length === 0) return out("no scaling decisions recorded yet");
        return out(
          table(
            ["TIME", "REASON", "READY", "STARTING", "DESIRED", "ACTION", "MESSAGE"],
            history.events.map((e) => [
              e.at ? new Date(timestampMs(e.at)).toISOString().slice(11, 19) : "",
              e.reason,
              String(e.readyWorkers),
              String(e.startingWorkers),
              String(e.desiredWorkers),
              e.error ? `${e.action || "-"} FAILED: ${e.error}` : e.action || "-",
              e.message,
            ]),
          ),
        );
      }
    }
  } finally {
    client.close();
  }
}

function printStatus(
  status: GetScalingStatusResponse | undefined,
  target: AdminTarget,
  out: (text: string) => void,
): void {
  if (status === undefined) return out("the coordinator answered without a status");
  if (target.json)
    return out(toJsonString(GetScalingStatusResponseSchema, status, { prettySpaces: 2 }));
  out(scalingLines(status).join("\n"));
}

/** The scaling part of `scalemesh status`, shared with `scalemesh scale`. */
export function scalingLines(status: GetScalingStatusResponse): string[] {
  const last = status.lastEvent;
  return [
    `autoscaling   ${status.autoscalingEnabled ? "on" : "off"} (provider ${status.provider}, mode ${status.mode}), ${status.currentWorkers} ready + ${status.startingWorkers} starting, desired ${status.desiredWorkers} (min ${status.minWorkers}, max ${status.maxWorkers})`,
    `scaling       ${status.scaleUps} up, ${status.scaleDowns} down, ${status.failedOperations} failed operation(s), mean time to healthy ${status.meanTimeToHealthySec.toFixed(2)} s`,
    `forecast      ${status.predictive}`,
    ...(last
      ? [`last decision ${last.reason}: ${last.message}${last.action ? ` [${last.action}]` : ""}`]
      : []),
    ...(status.degraded
      ? [
          `DEGRADED      ${status.degradedReason}${status.failedWorkers.length > 0 ? ` (failed: ${status.failedWorkers.join(", ")})` : ""}`,
        ]
      : []),
  ];
}
