// Waits for a long operation to finish by reading its state again and again
// (the Admin API has no stream for it), showing each reading as progress,
// until the reading says done, that it will not be, or the time is up. A
// lost coordinator is shown and tried again within the same time.
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "../../libs/rpc/index.js";
import { isCoordinatorLost, failureText } from "./coordinator-loss.js";
import type { Progress } from "./progress.js";

export type PollVerdict =
  | { readonly kind: "done" }
  | { readonly kind: "waiting"; readonly progress: string }
  | { readonly kind: "abandoned"; readonly problem: string };

export type PollOutcome<T> =
  | { readonly kind: "done"; readonly last: T }
  | { readonly kind: "timed_out"; readonly last: T | undefined }
  | { readonly kind: "abandoned"; readonly last: T; readonly problem: string };

export interface PollOptions<T> {
  readonly read: () => Promise<T>;
  readonly verdict: (reading: T) => PollVerdict;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly progress: Progress;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
}

export async function pollUntil<T>(options: PollOptions<T>): Promise<PollOutcome<T>> {
  const now = options.now ?? Date.now;
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  const startMs = now();
  let last: T | undefined;
  try {
    for (;;) {
      let line: string;
      try {
        last = await options.read();
        const verdict = options.verdict(last);
        if (verdict.kind === "done") return { kind: "done", last };
        if (verdict.kind === "abandoned")
          return { kind: "abandoned", last, problem: verdict.problem };
        line = verdict.progress;
      } catch (error) {
        if (!isCoordinatorLost(error)) throw error;
        line = `lost the coordinator: ${failureText(error)}; trying again`;
      }
      const elapsedMs = now() - startMs;
      if (elapsedMs >= options.timeoutMs) return { kind: "timed_out", last };
      options.progress.show(
        `${line} (waited ${Math.floor(elapsedMs / 1000)} s of ${Math.round(options.timeoutMs / 1000)})`,
      );
      await wait(Math.min(options.pollMs, options.timeoutMs - elapsedMs));
    }
  } finally {
    options.progress.clear();
  }
}

/** What a command that waited ends with when the wait did not end in done (exit code 1). */
export function waitFailure(
  outcome: Exclude<PollOutcome<unknown>, { kind: "done" }>,
  timedOutMessage: string,
): ConnectError {
  return outcome.kind === "abandoned"
    ? new ConnectError(outcome.problem, Code.Aborted)
    : new ConnectError(timedOutMessage, Code.DeadlineExceeded);
}
