// What the live page shows, read once a second from the Admin service's own
// implementation (the same answers grpcurl and curl get) and kept as a ring
// of samples, so a page that opens sees the last minutes at once and every
// open page costs one shared reading, not one per viewer.
import { create, toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  GetClusterStatusRequestSchema,
  GetClusterStatusResponseSchema,
  GetScalingHistoryRequestSchema,
  GetScalingHistoryResponseSchema,
  GetScalingStatusRequestSchema,
  GetScalingStatusResponseSchema,
  ListTasksRequestSchema,
  ListTasksResponseSchema,
  ListWorkersRequestSchema,
  ListWorkersResponseSchema,
  ScalingEventSchema,
  TaskState,
  WorkerState,
  type Admin,
  type GetForecastResponse,
  type Task,
  type WorkerStatus,
} from "../../libs/contracts/index.js";
import { histogramWindow, type HistogramWindow } from "./histogram-window.js";

export type AdminReads = Pick<
  ServiceImpl<typeof Admin>,
  "getClusterStatus" | "listWorkers" | "listTasks" | "getScalingStatus" | "getScalingHistory"
>;

/** One second of the mesh, as the page's charts plot it. */
export interface LiveSample {
  readonly at: number;
  readonly submittedPerSec: number;
  readonly succeededPerSec: number;
  readonly failedPerSec: number;
  readonly pending: number;
  readonly busySlots: number;
  readonly totalSlots: number;
  /** Seconds; null when no task finished in the window. */
  readonly queueWaitP50: number | null;
  readonly queueWaitP99: number | null;
  readonly endToEndP50: number | null;
  readonly endToEndP99: number | null;
  readonly currentWorkers: number;
  readonly desiredWorkers: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
}

/** A worker as a row of the page: [id, state, inFlight, slots, region, zone, capabilities, heartbeatAgeMs, succeeded, failed]. */
export type WorkerRow = [
  string,
  string,
  number,
  number,
  string,
  string,
  string,
  number,
  number,
  number,
];

export interface LiveTick {
  readonly sample: LiveSample;
  readonly status: unknown;
  readonly scaling: unknown;
  readonly decisions: unknown[];
  readonly workers: WorkerRow[];
  readonly failures: unknown[];
  readonly forecast: unknown;
}

export interface LiveFeed {
  /** The samples of the last `historySec`, oldest first. */
  history(): readonly LiveSample[];
  /** The newest reading; undefined before the first. */
  latest(): LiveTick | undefined;
  /** Calls `listener` with every new reading; returns what unsubscribes it. */
  subscribe(listener: (tick: LiveTick) => void): () => void;
  stop(): void;
}

export interface LiveFeedOptions {
  readonly admin: AdminReads;
  /** Tasks accepted since the coordinator started. */
  readonly acceptedTotal: () => number;
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly historySec?: number;
  /** The optimizer's demand forecast, asked every few seconds; absent without an optimizer. */
  readonly forecast?: () => Promise<GetForecastResponse>;
  /** Histograms of queue wait and submit-to-result, in this process's metric registry. */
  readonly queueWaitMetric?: string;
  readonly endToEndMetric?: string;
}

/** The coordinator's histograms the page's latency chart reads (coordinator-metrics.ts). */
export const PAGE_LATENCY_METRICS = {
  queueWait: "scalemesh_task_queue_wait_seconds",
  endToEnd: "scalemesh_task_submit_to_result_seconds",
} as const;

const NO_CONTEXT = undefined as never;
const RECENT = 20;

function json<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): unknown {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}

function workerState(worker: WorkerStatus): string {
  if (worker.cordoned && worker.state === WorkerState.ALIVE) return "cordoned";
  return (WorkerState[worker.state] ?? "UNSPECIFIED").toLowerCase();
}

export function workerRow(worker: WorkerStatus, nowMs: number): WorkerRow {
  const spec = worker.spec;
  const heartbeat = worker.lastHeartbeatAt ? timestampMs(worker.lastHeartbeatAt) : nowMs;
  return [
    spec?.workerId ?? "",
    workerState(worker),
    worker.inFlight,
    spec?.slots ?? 0,
    spec?.region ?? "",
    spec?.zone ?? "",
    (spec?.capabilities ?? []).join(","),
    Math.max(0, nowMs - heartbeat),
    Number(worker.tasksSucceeded),
    Number(worker.tasksFailed),
  ];
}

function failureOf(task: Task): unknown {
  return {
    taskId: task.spec?.taskId ?? "",
    taskType: task.spec?.taskType ?? "",
    state: TaskState[task.state],
    attempt: task.attempt,
    workerId: task.workerId,
    error: task.error,
    at: task.updatedAt ? timestampMs(task.updatedAt) : 0,
  };
}

export function startLiveFeed(options: LiveFeedOptions): LiveFeed {
  const intervalMs = options.intervalMs ?? 1_000;
  const capacity = Math.ceil(((options.historySec ?? 600) * 1000) / intervalMs);
  const samples: LiveSample[] = [];
  const listeners = new Set<(tick: LiveTick) => void>();
  const queueWait: HistogramWindow | undefined = options.queueWaitMetric
    ? histogramWindow(options.queueWaitMetric)
    : undefined;
  const endToEnd: HistogramWindow | undefined = options.endToEndMetric
    ? histogramWindow(options.endToEndMetric)
    : undefined;
  let newest: LiveTick | undefined;
  let previous: { at: number; submitted: number; succeeded: number; failed: number } | undefined;
  let forecast: unknown = null;
  let forecastAskedAt = 0;
  let reading = false;
  let lastErrorLogMs = 0;

  const refreshForecast = (now: number): void => {
    if (!options.forecast || now - forecastAskedAt < 5_000) return;
    forecastAskedAt = now;
    options.forecast().then(
      (answer) => {
        forecast = {
          model: answer.model,
          confidence: answer.confidence,
          message: answer.message,
          points: answer.points.map((point) => [
            point.at ? timestampMs(point.at) : 0,
            point.value,
            point.lower,
            point.upper,
          ]),
        };
      },
      () => {
        forecast = null;
      },
    );
  };

  const read = async (): Promise<void> => {
    const now = Date.now();
    const admin = options.admin;
    const status = create(
      GetClusterStatusResponseSchema,
      await admin.getClusterStatus(create(GetClusterStatusRequestSchema, {}), NO_CONTEXT),
    );
    // The series are kept whether or not a page is open (a page that opens
    // sees the last minutes); workers, failures and decisions are read only
    // while one is.
    const watched = listeners.size > 0;
    const { workers } = watched
      ? create(
          ListWorkersResponseSchema,
          await admin.listWorkers(
            create(ListWorkersRequestSchema, { includeDead: true }),
            NO_CONTEXT,
          ),
        )
      : { workers: [] };
    // The autoscaler answers UNAVAILABLE while it starts: the page shows no scaling then.
    const scaling = await (async () =>
      create(
        GetScalingStatusResponseSchema,
        await admin.getScalingStatus(create(GetScalingStatusRequestSchema, {}), NO_CONTEXT),
      ))().catch(() => undefined);
    const history = watched
      ? await (async () =>
          create(
            GetScalingHistoryResponseSchema,
            await admin.getScalingHistory(
              create(GetScalingHistoryRequestSchema, { pageSize: RECENT }),
              NO_CONTEXT,
            ),
          ))().catch(() => undefined)
      : undefined;
    const failures: Task[] = [];
    for (const state of watched ? [TaskState.DEAD_LETTERED, TaskState.FAILED] : []) {
      const listed = create(
        ListTasksResponseSchema,
        await admin.listTasks(
          create(ListTasksRequestSchema, { state, pageSize: RECENT }),
          NO_CONTEXT,
        ),
      );
      failures.push(...listed.tasks);
    }
    failures.sort((a, b) => failureTime(b) - failureTime(a));

    const count = (name: string): number => Number(status.tasksByState[name] ?? 0n);
    const totals = {
      at: now,
      submitted: options.acceptedTotal(),
      succeeded: count("SUCCEEDED"),
      failed: count("DEAD_LETTERED"),
    };
    const perSec = (key: "submitted" | "succeeded" | "failed"): number =>
      previous && now > previous.at
        ? Math.max(0, ((totals[key] - previous[key]) * 1000) / (now - previous.at))
        : 0;
    const waits = await queueWait?.take();
    const ends = await endToEnd?.take();
    const sample: LiveSample = {
      at: now,
      submittedPerSec: perSec("submitted"),
      succeededPerSec: perSec("succeeded"),
      failedPerSec: perSec("failed"),
      pending: count("PENDING"),
      busySlots: status.busySlots,
      totalSlots: status.totalSlots,
      queueWaitP50: waits?.quantile(0.5) ?? null,
      queueWaitP99: waits?.quantile(0.99) ?? null,
      endToEndP50: ends?.quantile(0.5) ?? null,
      endToEndP99: ends?.quantile(0.99) ?? null,
      currentWorkers: scaling?.currentWorkers ?? status.workersAlive + status.workersDraining,
      desiredWorkers: scaling?.desiredWorkers ?? 0,
      minWorkers: scaling?.minWorkers ?? 0,
      maxWorkers: scaling?.maxWorkers ?? 0,
    };
    previous = totals;
    samples.push(sample);
    if (samples.length > capacity) samples.splice(0, samples.length - capacity);
    if (watched) refreshForecast(now);
    newest = {
      sample,
      status: json(GetClusterStatusResponseSchema, status),
      scaling: scaling ? json(GetScalingStatusResponseSchema, scaling) : null,
      decisions: (history?.events ?? []).map((event) => json(ScalingEventSchema, event)),
      workers: workers.map((worker) => workerRow(worker, now)),
      failures: failures.slice(0, RECENT).map(failureOf),
      forecast,
    };
    for (const listener of listeners) listener(newest);
  };

  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    read()
      .catch((error: unknown) => {
        if (Date.now() - lastErrorLogMs > 60_000) {
          lastErrorLogMs = Date.now();
          options.logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "live page: cannot read the mesh; will try again",
          );
        }
      })
      .finally(() => {
        reading = false;
      });
  }, intervalMs);
  timer.unref();

  return {
    history: () => samples,
    latest: () => newest,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    stop() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}

function failureTime(task: Task): number {
  return task.updatedAt ? timestampMs(task.updatedAt) : 0;
}
