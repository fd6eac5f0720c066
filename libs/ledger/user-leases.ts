// Named leases for users' jobs, kept beside the tasks so they survive a
// restart and a takeover: one holder at a time until it releases or its TTL
// passes unrenewed, and a fencing token that grows with every new holder and
// is never reused (a released lease keeps its row and its last token). The
// rules are here once; each store (memory, SQLite, PostgreSQL) only reads
// and writes one row inside its own transaction.

export interface UserLease {
  readonly name: string;
  /** "" when nobody holds it (released, or never taken). */
  readonly holder: string;
  readonly fencingToken: number;
  readonly expiresAtMs: number;
  readonly ttlMs: number;
}

export type AcquireOutcome =
  | { readonly acquired: true; readonly lease: UserLease }
  | { readonly acquired: false; readonly lease: UserLease };

export interface UserLeaseStore {
  acquire(name: string, holder: string, ttlMs: number, nowMs: number): Promise<AcquireOutcome>;
  /** The renewed lease, or undefined when `holder` no longer holds it under `fencingToken`. */
  renew(
    name: string,
    holder: string,
    fencingToken: number,
    ttlMs: number | undefined,
    nowMs: number,
  ): Promise<UserLease | undefined>;
  /** Whether `holder` held it under `fencingToken` (and now does not). */
  release(name: string, holder: string, fencingToken: number, nowMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const isHeld = (lease: UserLease | undefined, nowMs: number): lease is UserLease =>
  lease !== undefined && lease.holder !== "" && lease.expiresAtMs > nowMs;

/** What an acquire makes of the row as it is: the row to write (undefined: none) and the answer. */
export function decideAcquire(
  current: UserLease | undefined,
  request: { name: string; holder: string; ttlMs: number; nowMs: number },
): { write: UserLease | undefined; outcome: AcquireOutcome } {
  if (isHeld(current, request.nowMs) && current.holder !== request.holder)
    return { write: undefined, outcome: { acquired: false, lease: current } };
  // The same holder asking again renews under its token; anyone else gets a new one.
  const sameHolder = isHeld(current, request.nowMs) && current.holder === request.holder;
  const lease: UserLease = {
    name: request.name,
    holder: request.holder,
    fencingToken: sameHolder ? current.fencingToken : (current?.fencingToken ?? 0) + 1,
    expiresAtMs: request.nowMs + request.ttlMs,
    ttlMs: request.ttlMs,
  };
  return { write: lease, outcome: { acquired: true, lease } };
}

export function decideRenew(
  current: UserLease | undefined,
  request: { holder: string; fencingToken: number; ttlMs: number | undefined; nowMs: number },
): UserLease | undefined {
  if (!isHeld(current, request.nowMs)) return undefined;
  if (current.holder !== request.holder || current.fencingToken !== request.fencingToken)
    return undefined;
  const ttlMs = request.ttlMs ?? current.ttlMs;
  return { ...current, ttlMs, expiresAtMs: request.nowMs + ttlMs };
}

export function decideRelease(
  current: UserLease | undefined,
  request: { holder: string; fencingToken: number; nowMs: number },
): UserLease | undefined {
  if (!isHeld(current, request.nowMs)) return undefined;
  if (current.holder !== request.holder || current.fencingToken !== request.fencingToken)
    return undefined;
  return { ...current, holder: "", expiresAtMs: 0 };
}

/**
 * A store from one row's read and write inside a transaction: `transact`
 * runs `body` with the row of `name` as it is and writes what it returns.
 */
export function userLeaseStoreOver(
  transact: <T>(
    name: string,
    body: (current: UserLease | undefined) => { write: UserLease | undefined; answer: T },
  ) => Promise<T>,
  close: () => Promise<void>,
): UserLeaseStore {
  return {
    acquire: (name, holder, ttlMs, nowMs) =>
      transact(name, (current) => {
        const { write, outcome } = decideAcquire(current, { name, holder, ttlMs, nowMs });
        return { write, answer: outcome };
      }),
    renew: (name, holder, fencingToken, ttlMs, nowMs) =>
      transact(name, (current) => {
        const renewed = decideRenew(current, { holder, fencingToken, ttlMs, nowMs });
        return { write: renewed, answer: renewed };
      }),
    release: (name, holder, fencingToken, nowMs) =>
      transact(name, (current) => {
        const released = decideRelease(current, { holder, fencingToken, nowMs });
        return { write: released, answer: released !== undefined };
      }),
    close,
  };
}

/** Leases in memory: `ledger.path: ":memory:"` and tests. */
export function createMemoryUserLeases(): UserLeaseStore {
  const rows = new Map<string, UserLease>();
  return userLeaseStoreOver(
    async (name, body) => {
      const { write, answer } = body(rows.get(name));
      if (write) rows.set(name, write);
      return answer;
    },
    async () => undefined,
  );
}
