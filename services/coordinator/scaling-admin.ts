// The Admin API's scaling calls, over the autoscaler loop: status, the
// decision history (paged, newest first), a manual target, on/off.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  GetScalingStatusResponseSchema,
  ScalingEventSchema,
  type Admin,
  type GetScalingStatusResponse,
  type ScalingEvent,
} from "../../libs/contracts/index.js";
import type { StoredScalingEvent } from "../../libs/ledger/index.js";
import { invalidArgument, unavailable } from "../../libs/rpc/index.js";
import type { Autoscaler } from "./autoscaler.js";

type ScalingCalls = Pick<
  ServiceImpl<typeof Admin>,
  "getScalingStatus" | "getScalingHistory" | "scaleWorkers" | "setAutoscaling"
>;

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/** `current` is absent while the coordinator starts (the provider needs the port it listens on). */
export function scalingAdmin(
  current: () => Autoscaler | undefined,
  options: {
    hardMaxWorkers: number;
    history: (limit: number, beforeId?: number) => Promise<StoredScalingEvent[]>;
  },
): ScalingCalls {
  const loop = (): Autoscaler => {
    const autoscaler = current();
    if (autoscaler === undefined)
      throw unavailable("the autoscaler is starting; retry in a moment");
    return autoscaler;
  };
  return {
    getScalingStatus: () => statusMessage(loop()),
    async getScalingHistory(request) {
      if (request.pageSize > MAX_PAGE_SIZE)
        throw invalidArgument(
          "page_size",
          `${request.pageSize} is over the limit of ${MAX_PAGE_SIZE}`,
        );
      const limit = request.pageSize || DEFAULT_PAGE_SIZE;
      const beforeId = parseToken(request.pageToken);
      const events = await options.history(limit + 1, beforeId);
      const page = events.slice(0, limit);
      return {
        events: page.map(eventMessage),
        nextPageToken: events.length > limit ? `e${page.at(-1)?.id}` : "",
      };
    },
    async scaleWorkers(request) {
      if (request.workers > options.hardMaxWorkers) {
        throw invalidArgument(
          "workers",
          `${request.workers} is over the hard ceiling of ${options.hardMaxWorkers} (autoscaler.hard_max_workers, or max_workers x burst_factor)`,
        );
      }
      await loop().scaleTo(request.workers);
      return { status: statusMessage(loop()) };
    },
    async setAutoscaling(request) {
      await loop().setEnabled(request.enabled);
      return { status: statusMessage(loop()) };
    },
  };
}

function parseToken(token: string): number | undefined {
  if (token === "") return undefined;
  const id = /^e(\d+)$/.exec(token)?.[1];
  if (id === undefined)
    throw invalidArgument(
      "page_token",
      `"${token}" is not a token this server gave out; start again without one`,
    );
  return Number(id);
}

function statusMessage(autoscaler: Autoscaler): GetScalingStatusResponse {
  const status = autoscaler.status();
  return create(GetScalingStatusResponseSchema, {
    autoscalingEnabled: status.isEnabled,
    provider: status.provider,
    currentWorkers: status.currentWorkers,
    startingWorkers: status.startingWorkers,
    desiredWorkers: status.desiredWorkers,
    minWorkers: status.minWorkers,
    maxWorkers: status.maxWorkers,
    mode: status.mode,
    scaleUps: BigInt(status.scaleUps),
    scaleDowns: BigInt(status.scaleDowns),
    failedOperations: BigInt(status.failedOperations),
    meanTimeToHealthySec: status.meanTimeToHealthySec,
    ...(status.lastEvent ? { lastEvent: eventMessage(status.lastEvent) } : {}),
    degraded: status.degradedReason !== undefined,
    degradedReason: status.degradedReason ?? "",
    failedWorkers: [...status.failedWorkers],
    predictive: status.predictive,
  });
}

function eventMessage(event: StoredScalingEvent): ScalingEvent {
  return create(ScalingEventSchema, {
    id: BigInt(event.id),
    at: timestampFromMs(event.atMs),
    reason: event.reason,
    message: event.message,
    readyWorkers: event.readyWorkers,
    startingWorkers: event.startingWorkers,
    desiredWorkers: event.desiredWorkers,
    rawDesiredWorkers: event.rawDesiredWorkers,
    mode: event.mode,
    signals: { ...event.signals },
    action: event.action,
    error: event.error,
  });
}
