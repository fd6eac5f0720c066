// A commit observer for tests: keeps every durable batch and counts failures.
import type { CommitObserver } from "../group-commit.js";

export function recordingObserver(): {
  readonly observer: CommitObserver;
  readonly batches: { rows: number; seconds: number }[];
  failures(): number;
} {
  const batches: { rows: number; seconds: number }[] = [];
  let failed = 0;
  return {
    observer: { committed: (batch) => void batches.push(batch), failed: () => void (failed += 1) },
    batches,
    failures: () => failed,
  };
}
