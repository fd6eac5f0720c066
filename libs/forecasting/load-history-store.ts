// One tiered history per named load signal (arrival rate, busy slots, ...),
// snapshotted as plain data so the optimizer's history survives a restart.
import type { SignalHistorySnapshot, TierSpec } from "./forecast-types.js";
import { createSignalHistory, restoreSignalHistory, type SignalHistory } from "./signal-history.js";

export interface LoadHistoryStore {
  readonly signals: readonly string[];
  /** Throws a RangeError for a signal the store was not made with: a misspelt signal name is a bug, not data. */
  append(signal: string, atMs: number, value: number): void;
  history(signal: string): SignalHistory;
  snapshot(): Record<string, SignalHistorySnapshot>;
}

export interface RestoreLoadHistoryOptions {
  /** The signals to keep (default: those in the snapshot); one missing from the snapshot starts empty, one not listed is dropped. */
  readonly signals?: readonly string[];
  readonly tiers?: readonly TierSpec[];
}

export function createLoadHistoryStore(
  signals: readonly string[],
  tiers?: readonly TierSpec[],
): LoadHistoryStore {
  return storeFrom(new Map(signals.map((signal) => [signal, createSignalHistory(tiers)])));
}

export function restoreLoadHistoryStore(
  snapshot: Readonly<Record<string, SignalHistorySnapshot>>,
  options: RestoreLoadHistoryOptions = {},
): LoadHistoryStore {
  const signals = options.signals ?? Object.keys(snapshot);
  const histories = new Map<string, SignalHistory>();
  for (const signal of signals) {
    const stored = Object.hasOwn(snapshot, signal) ? snapshot[signal] : undefined;
    histories.set(
      signal,
      stored === undefined
        ? createSignalHistory(options.tiers)
        : restoreSignalHistory(stored, options.tiers),
    );
  }
  return storeFrom(histories);
}

function storeFrom(histories: ReadonlyMap<string, SignalHistory>): LoadHistoryStore {
  const signals = [...histories.keys()];
  const historyOf = (signal: string): SignalHistory => {
    const history = histories.get(signal);
    if (history === undefined)
      throw new RangeError(`no load history for signal "${signal}" (known: ${signals.join(", ")})`);
    return history;
  };
  return {
    signals,
    append(signal, atMs, value) {
      historyOf(signal).append(atMs, value);
    },
    history: historyOf,
    snapshot() {
      return Object.fromEntries(signals.map((signal) => [signal, historyOf(signal).snapshot()]));
    },
  };
}
