// A small bounded load generator for fault tests: `count` Assign calls with at
// most `concurrency` in flight, spread over one or more balancer clients.
// A call that fails with UNAVAILABLE or DEADLINE_EXCEEDED is retried with the
// same task id and the same content (Assign is idempotent then: it returns the
// existing task), on the next client in the list, until it is accepted or the
// task's own give-up time passes. It records which task ids were accepted
// (Assign returned OK) and when each call failed, so a test can say how long
// clients saw the mesh unavailable.
import { setTimeout as sleep } from "node:timers/promises";
import { backoffCeilingMs, type BackoffPolicy } from "../../libs/backoff/index.js";
import type { AssignResponse, Balancer } from "../../libs/contracts/index.js";
import { Code, ConnectError, toConnectError, type RpcClient } from "../../libs/rpc/index.js";

export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
]);

export interface LoadOptions {
  readonly clients: readonly RpcClient<typeof Balancer>[];
  readonly count: number;
  readonly concurrency: number;
  /** Task ids are `${idPrefix}-${i}`. */
  readonly idPrefix: string;
  readonly payload: (i: number) => Uint8Array;
  /** Called once per task when an Assign for it returns OK. */
  readonly onAccepted?: (taskId: string, response: AssignResponse, i: number) => void;
  /** Deadline of one Assign call (default 5 s). */
  readonly callTimeoutMs?: number;
  /** A task still not accepted this long after its first call is given up (default 60 s). */
  readonly giveUpMs?: number;
  /** Delay before the first retry; doubles up to 500 ms (default 25 ms). */
  readonly retryDelayMs?: number;
  /** Stops the load: no new task, no more retries (a test's afterEach aborts it). */
  readonly signal?: AbortSignal;
}

/** One Assign call that failed with a retryable status. */
export interface FailedCall {
  readonly taskId: string;
  readonly clientIndex: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly code: Code;
  readonly message: string;
}

export interface LoadReport {
  /** Task id -> the response of the call that accepted it. */
  readonly accepted: Map<string, AssignResponse>;
  /** Task id -> why it was never accepted (a status that is not retried, or the give-up time). */
  readonly refused: Map<string, ConnectError>;
  readonly failedCalls: FailedCall[];
  /** Accepted on a retry, with the time from the task's first call to the OK. */
  readonly acceptedAfterRetryMs: Map<string, number>;
  readonly startedAtMs: number;
  readonly elapsedMs: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  if (options.clients.length === 0) throw new Error("runLoad: no clients");
  const callTimeoutMs = options.callTimeoutMs ?? 5_000;
  const giveUpMs = options.giveUpMs ?? 60_000;
  // No jitter: a fixed cadence bounds how late a recovery is seen (500 ms at most), which the fault tests measure.
  const retry: BackoffPolicy = { initialMs: options.retryDelayMs ?? 25, maxMs: 500 };
  const accepted = new Map<string, AssignResponse>();
  const refused = new Map<string, ConnectError>();
  const failedCalls: FailedCall[] = [];
  const acceptedAfterRetryMs = new Map<string, number>();
  const startedAtMs = Date.now();

  const assignOne = async (i: number): Promise<void> => {
    const taskId = `${options.idPrefix}-${i}`;
    const payload = options.payload(i);
    const firstCallMs = Date.now();
    let clientIndex = i % options.clients.length;
    for (let tries = 1; ; tries += 1) {
      const client = options.clients[clientIndex] as RpcClient<typeof Balancer>;
      const callStartedMs = Date.now();
      try {
        const response = await client.assign(
          { task: { taskId, payload } },
          { timeoutMs: callTimeoutMs },
        );
        accepted.set(taskId, response);
        if (tries > 1) acceptedAfterRetryMs.set(taskId, Date.now() - firstCallMs);
        options.onAccepted?.(taskId, response, i);
        return;
      } catch (error) {
        const status = toConnectError(error);
        if (!RETRYABLE_CODES.has(status.code)) {
          refused.set(taskId, status);
          return;
        }
        failedCalls.push({
          taskId,
          clientIndex,
          startedAtMs: callStartedMs,
          endedAtMs: Date.now(),
          code: status.code,
          message: status.rawMessage,
        });
        if (Date.now() - firstCallMs > giveUpMs || options.signal?.aborted) {
          refused.set(
            taskId,
            new ConnectError(
              `gave up after ${tries} calls in ${giveUpMs} ms; last: ${status.rawMessage}`,
              status.code,
            ),
          );
          return;
        }
      }
      clientIndex = (clientIndex + 1) % options.clients.length;
      await sleep(backoffCeilingMs(retry, tries));
    }
  };

  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
      while (next < options.count && !options.signal?.aborted) await assignOne(next++);
    }),
  );
  return {
    accepted,
    refused,
    failedCalls,
    acceptedAfterRetryMs,
    startedAtMs,
    elapsedMs: Date.now() - startedAtMs,
  };
}

/** The span of time in which calls failed with a retryable status (undefined when none did). */
export function unavailableWindow(
  failedCalls: readonly FailedCall[],
): { firstMs: number; lastMs: number } | undefined {
  if (failedCalls.length === 0) return undefined;
  return {
    firstMs: Math.min(...failedCalls.map((c) => c.startedAtMs)),
    lastMs: Math.max(...failedCalls.map((c) => c.endedAtMs)),
  };
}
