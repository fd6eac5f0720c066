// `scalemesh scale`: the autoscaler from the command line. `scale 5` sets a
// manual target (and switches the autoscaler off) and waits until the fleet
// has reached it (--no-wait: returns at once), `scale --auto` switches it
// back on, `scale --history` shows its recent decisions; with no argument it
// prints the scaling status. Status and history can be watched.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  GetScalingHistoryResponseSchema,
  GetScalingStatusResponseSchema,
  type GetScalingStatusResponse,
} from "../../libs/contracts/index.js";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import { withAdminClient, type AdminClient, type AdminTarget } from "./admin-client.js";
import { table } from "./format.js";
import type { OutputFormat } from "./option-parsers.js";
import { pollUntil, waitFailure, type PollVerdict } from "./poll-until.js";
import type { Progress } from "./progress.js";
import { documentOf, readingText, type Reading } from "./reading.js";

/** What `scale` changes: a manual target, or autoscaling on or off. */
export type ScaleRequest =
  | { readonly kind: "target"; readonly workers: number }
  | { readonly kind: "auto"; readonly isEnabled: boolean };

export function scalingReading(status: GetScalingStatusResponse): Reading {
  return {
    document: documentOf(GetScalingStatusResponseSchema, status),
    table: scalingLines(status).join("\n"),
  };
}

export async function readScalingStatus(
  client: AdminClient,
  signal?: AbortSignal,
): Promise<Reading> {
  return scalingReading(await client.getScalingStatus({}, { signal }));
}

export async function readScalingHistory(
  client: AdminClient,
  limit: number,
  signal?: AbortSignal,
): Promise<Reading> {
  const history = await client.getScalingHistory({ pageSize: limit }, { signal });
  const document = documentOf(GetScalingHistoryResponseSchema, history);
  if (history.events.length === 0) return { document, table: "no scaling decisions recorded yet" };
  return {
    document,
    table: table(
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
  };
}

/** Reached when exactly `workers` are ready, none starting, and that is what the autoscaler wants. */
export function scaleVerdict(status: GetScalingStatusResponse, workers: number): PollVerdict {
  if (status.mode !== "manual")
    return {
      kind: "abandoned",
      problem: `the manual target ${workers} was replaced while waiting (autoscaling ${status.autoscalingEnabled ? "on" : "off"}, mode ${status.mode})`,
    };
  if (
    status.desiredWorkers === workers &&
    status.currentWorkers === workers &&
    status.startingWorkers === 0
  )
    return { kind: "done" };
  return {
    kind: "waiting",
    progress: `scaling to ${workers}: ${status.currentWorkers} ready + ${status.startingWorkers} starting, desired ${status.desiredWorkers}${status.degraded ? `; DEGRADED: ${status.degradedReason}` : ""}`,
  };
}

export interface ScaleOptions {
  readonly format: OutputFormat;
  /** For a target: wait until it is reached; undefined: --no-wait. */
  readonly wait: { readonly timeoutMs: number; readonly pollMs: number } | undefined;
}

/** A change of the autoscaler: a manual target (waited for, unless --no-wait) or on/off. */
export async function scale(
  target: AdminTarget,
  request: ScaleRequest,
  options: ScaleOptions,
  out: (text: string) => void,
  progress: Progress,
): Promise<void> {
  await withAdminClient(target, async (client) => {
    const print = (status: GetScalingStatusResponse, heading?: string): void =>
      out(
        readingText(
          {
            document: scalingReading(status).document,
            table: [...(heading ? [heading] : []), ...scalingLines(status)].join("\n"),
          },
          options.format,
        ),
      );
    const answer =
      request.kind === "auto"
        ? await client.setAutoscaling({ enabled: request.isEnabled })
        : await client.scaleWorkers({ workers: request.workers });
    const status = answer.status;
    if (!status) throw new ConnectError("the coordinator answered without a status", Code.Internal);
    if (request.kind === "auto" || options.wait === undefined) return print(status);
    const outcome = await pollUntil({
      read: () => client.getScalingStatus({}),
      verdict: (reading) => scaleVerdict(reading, request.workers),
      timeoutMs: options.wait.timeoutMs,
      pollMs: options.wait.pollMs,
      progress,
    });
    const last = outcome.last ?? status;
    if (outcome.kind === "done") return print(last, `reached ${request.workers} ready worker(s)`);
    print(last);
    throw waitFailure(
      outcome,
      `the fleet has not reached ${request.workers} ready worker(s) within ${options.wait.timeoutMs / 1000} s (--wait-timeout); it goes on converging (scalemesh scale --watch)`,
    );
  });
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
