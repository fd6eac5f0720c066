// `scalemesh drain`: the worker takes nothing new, finishes what it runs,
// then leaves. The command waits until it has left (or --wait-timeout),
// showing the tasks it still runs; --no-wait returns once the drain is asked.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WorkerState, WorkerStatusSchema, type WorkerStatus } from "../../libs/contracts/index.js";
import { Code, ConnectError, toConnectError } from "../../libs/rpc/index.js";
import { withAdminClient, type AdminTarget } from "./admin-client.js";
import type { OutputFormat } from "./option-parsers.js";
import { pollUntil, waitFailure, type PollVerdict } from "./poll-until.js";
import type { Progress } from "./progress.js";
import { documentOf, readingText } from "./reading.js";
import { describeWorker } from "./format.js";

export interface DrainOptions {
  readonly workerId: string;
  readonly format: OutputFormat;
  /** Undefined: --no-wait. */
  readonly wait: { readonly timeoutMs: number; readonly pollMs: number } | undefined;
}

export interface DrainReading {
  /** The last status the coordinator gave. */
  readonly worker: WorkerStatus;
  /** The coordinator no longer knows the worker (dead long enough to be forgotten). */
  readonly isForgotten: boolean;
}

const registeredAtMs = (worker: WorkerStatus): number | undefined =>
  worker.registeredAt ? timestampMs(worker.registeredAt) : undefined;

/** Done once the drained registration is gone; `drained` is the status the drain answered with. */
export function drainVerdict(drained: WorkerStatus, reading: DrainReading): PollVerdict {
  const { worker } = reading;
  const id = drained.spec?.workerId ?? "?";
  if (reading.isForgotten || worker.state === WorkerState.DEAD) return { kind: "done" };
  // Same id, new registration: the drained agent left and another joined (a provider's restart).
  if (registeredAtMs(worker) !== registeredAtMs(drained)) return { kind: "done" };
  if (worker.state === WorkerState.ALIVE)
    return { kind: "abandoned", problem: `worker ${id} takes tasks again: it no longer drains` };
  return {
    kind: "waiting",
    progress:
      worker.inFlight > 0
        ? `draining ${id}: ${worker.inFlight} task(s) in flight`
        : `draining ${id}: nothing in flight, waiting for it to leave`,
  };
}

export function leftText(drained: WorkerStatus, last: DrainReading): string {
  const id = drained.spec?.workerId ?? "?";
  const isRejoined =
    !last.isForgotten &&
    last.worker.state !== WorkerState.DEAD &&
    registeredAtMs(last.worker) !== registeredAtMs(drained);
  return isRejoined
    ? `worker ${id} has drained and left; a new agent has since joined as ${id}`
    : `worker ${id} has drained and left`;
}

export async function drain(
  target: AdminTarget,
  options: DrainOptions,
  out: (text: string) => void,
  progress: Progress,
): Promise<void> {
  await withAdminClient(target, async (client) => {
    const drained = (await client.drainWorker({ workerId: options.workerId })).worker;
    if (!drained)
      throw new ConnectError("the coordinator answered without a worker", Code.Internal);
    const print = (worker: WorkerStatus, table: string, left?: boolean): void =>
      out(
        readingText(
          {
            document: {
              worker: documentOf(WorkerStatusSchema, worker),
              ...(left === undefined ? {} : { left }),
            },
            table,
          },
          options.format,
        ),
      );
    if (options.wait === undefined)
      return print(
        drained,
        `${describeWorker(drained)}\nit takes nothing new, finishes and reports what it runs, then leaves`,
      );
    if (options.format === "table") out(describeWorker(drained));
    const outcome = await pollUntil<DrainReading>({
      read: async () => {
        try {
          const { worker } = await client.getWorker({ workerId: options.workerId });
          return { worker: worker ?? drained, isForgotten: worker === undefined };
        } catch (error) {
          if (toConnectError(error).code !== Code.NotFound) throw error;
          return { worker: drained, isForgotten: true };
        }
      },
      verdict: (reading) => drainVerdict(drained, reading),
      timeoutMs: options.wait.timeoutMs,
      pollMs: options.wait.pollMs,
      progress,
    });
    const last = outcome.last ?? { worker: drained, isForgotten: false };
    if (outcome.kind === "done") return print(last.worker, leftText(drained, last), true);
    print(last.worker, describeWorker(last.worker), false);
    throw waitFailure(
      outcome,
      `worker ${options.workerId} has not left within ${options.wait.timeoutMs / 1000} s (--wait-timeout); it goes on draining`,
    );
  });
}
