// When the leader election next talks to the database: pure, so the timing
// rules can be read and tested apart from the loop (leader-election.ts).
import type { LeaseRow } from "../../libs/ledger/leader-lease.js";

/** A standby looks at the lease at least this often, so a released lease is taken within it. */
export const STANDBY_POLL_CAP_MS = 500;
/** Past the row's expiry, so the try lands after it by the database's clock too. */
export const EXPIRY_MARGIN_MS = 20;

/**
 * How long a standby waits before its next try: until the lease row says it
 * expires (plus a margin), but never longer than a third of the ttl or
 * STANDBY_POLL_CAP_MS, so a lease released on a graceful stop is taken
 * quickly. Without a row (the database did not answer) a third of the ttl.
 */
export function standbyRetryDelayMs(row: LeaseRow | undefined, ttlMs: number): number {
  const capMs = Math.min(ttlMs / 3, STANDBY_POLL_CAP_MS);
  if (row === undefined) return Math.round(ttlMs / 3);
  if (row.expiresInMs <= 0) return EXPIRY_MARGIN_MS;
  return Math.round(Math.min(row.expiresInMs + EXPIRY_MARGIN_MS, capMs));
}

/**
 * How long a leader's write connection may sit idle inside a transaction
 * before the database ends it: half the ttl. A leader frozen mid-commit then
 * releases the lease row before the lease can expire (a renewal went out at
 * most a third of the ttl before the freeze), so the takeover is not held
 * back; a live leader's statements follow each other far faster.
 */
export function transactionIdleLimitMs(ttlMs: number): number {
  return Math.max(100, Math.round(ttlMs / 2));
}

/**
 * How long the leader waits before renewing: a third of the ttl, so two
 * renewals in a row can fail (or be slow) before the lease runs out; after a
 * failed one a tenth, to get through before it does.
 */
export function renewDelayMs(ttlMs: number, afterFailure: boolean): number {
  return Math.max(10, Math.round(afterFailure ? ttlMs / 10 : ttlMs / 3));
}
