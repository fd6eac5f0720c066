// Which coordinator replica leads, through the lease row in the shared
// PostgreSQL ledger (libs/ledger/leader-lease.ts). A standby tries to take
// the lease as soon as the row says it expired; the leader renews it every
// third of its ttl. The leader counts its lease as valid until the moment it
// *sent* its last successful acquire or renew plus the ttl (its own monotonic
// clock, which runs on through a SIGSTOP): the database started the ttl later
// than that, so by the time any standby can take over, the old leader already
// considers itself out. It is also the WriteFence the store's commits call:
// a commit the database refuses (a newer epoch) or one that ends past the
// lease steps this replica down at once. Losing the lease is final for this
// object; the process exits and comes back as a standby (main.ts).
import type { ClientBase } from "pg";
import type { Logger } from "pino";
import {
  FencedError,
  checkLeaseInTransaction,
  type LeaderLeaseStore,
  type LeaseClaim,
  type LeaseRow,
  type WriteFence,
} from "../../libs/ledger/leader-lease.js";
import { renewDelayMs, standbyRetryDelayMs, transactionIdleLimitMs } from "./lease-timing.js";

export interface LeaderElectionOptions {
  readonly lease: LeaderLeaseStore;
  /** The lease row's name (one per mesh sharing a database). */
  readonly name: string;
  /** What the row says about this replica: the gRPC address others should dial. */
  readonly holder: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  /** Called once, when a lease this replica held is lost (refused, unrenewed past its ttl, fenced). */
  readonly onLost: (reason: string) => void;
  readonly monotonicNow?: () => number;
}

export interface LeaderElection extends WriteFence {
  /** Resolves with the claim once this replica leads (never, if stop() comes first). */
  readonly leading: Promise<LeaseClaim>;
  readonly isLeader: boolean;
  /** The leader's address as last read from the row (undefined before the first read, or when nobody leads). */
  readonly leaderAddress: string | undefined;
  /** Stops trying or renewing; a leader lets its lease expire now so a standby takes over at once. */
  stop(): Promise<void>;
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const { lease, name, holder, ttlMs, logger } = options;
  const now = options.monotonicNow ?? (() => performance.now());
  let claim: LeaseClaim | undefined;
  let validUntilMs = 0;
  let leaderAddress: string | undefined;
  let isLost = false;
  let isStopped = false;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let lastError: string | undefined;
  let becomeLeader: (claim: LeaseClaim) => void = () => {};
  const leading = new Promise<LeaseClaim>((resolve) => (becomeLeader = resolve));

  const isHeldNow = (): boolean =>
    claim !== undefined && !isLost && !isStopped && now() < validUntilMs;

  const lose = (reason: string): void => {
    if (isLost || claim === undefined) return;
    isLost = true;
    clearTimeout(timer);
    clearTimeout(deadline);
    logger.error({ epoch: claim.epoch, reason }, "leader lease lost; stepping down");
    options.onLost(reason);
  };

  const extendTo = (untilMs: number): void => {
    validUntilMs = untilMs;
    clearTimeout(deadline);
    // A renewal that hangs (or a process frozen past its lease) ends leadership here.
    deadline = setTimeout(
      () => lose(`not renewed within its ${ttlMs} ms ttl`),
      Math.max(0, untilMs - now()),
    );
  };

  const sayOnce = (error: unknown, message: string): void => {
    const text = error instanceof Error ? error.message : String(error);
    if (text !== lastError) logger.warn({ err: text }, message);
    lastError = text;
  };

  const tryAcquire = async (): Promise<void> => {
    if (isStopped) return;
    const sentAtMs = now();
    let delayMs: number;
    try {
      const outcome = await lease.tryAcquire(holder, ttlMs);
      if (isStopped) return;
      if (outcome.kind === "acquired") {
        claim = { name, holder, epoch: outcome.epoch };
        leaderAddress = holder;
        lastError = undefined;
        extendTo(sentAtMs + ttlMs);
        logger.info(
          { epoch: outcome.epoch, ttlMs },
          "leader lease acquired; this coordinator leads",
        );
        becomeLeader(claim);
        scheduleRenew();
        return;
      }
      noteLeader(outcome.row);
      lastError = undefined;
      delayMs = standbyRetryDelayMs(outcome.row, ttlMs);
    } catch (error) {
      sayOnce(error, "cannot read the leader lease; retrying");
      delayMs = standbyRetryDelayMs(undefined, ttlMs);
    }
    timer = setTimeout(() => void tryAcquire(), delayMs);
  };

  const noteLeader = (row: LeaseRow): void => {
    const address = row.expiresInMs > 0 && row.holder !== "" ? row.holder : undefined;
    if (address !== leaderAddress)
      logger.info(
        { leader: address ?? null, epoch: row.epoch },
        address ? "standby; another coordinator leads" : "standby; nobody leads right now",
      );
    leaderAddress = address;
  };

  const scheduleRenew = (afterFailure = false): void => {
    if (isLost || isStopped) return;
    timer = setTimeout(() => void renew(), renewDelayMs(ttlMs, afterFailure));
  };

  const renew = async (): Promise<void> => {
    const current = claim;
    if (current === undefined || isLost || isStopped) return;
    const sentAtMs = now();
    try {
      const isRenewed = await lease.renew(current, ttlMs);
      if (isLost || isStopped) return;
      if (!isRenewed) return lose("the database refused the renewal (expired or taken over)");
      lastError = undefined;
      // A renewal that came back after the lease ran out locally does not revive it.
      if (now() >= validUntilMs) return lose(`renewed only after its ${ttlMs} ms ttl ran out`);
      extendTo(sentAtMs + ttlMs);
      scheduleRenew();
    } catch (error) {
      sayOnce(error, "cannot renew the leader lease; retrying until it runs out");
      scheduleRenew(true);
    }
  };

  void tryAcquire();

  return {
    leading,
    idleInTransactionTimeoutMs: transactionIdleLimitMs(ttlMs),
    get isLeader() {
      return isHeldNow();
    },
    get leaderAddress() {
      return leaderAddress;
    },
    async check(client: ClientBase) {
      if (!isHeldNow()) {
        const reason = notHeldReason();
        lose(reason);
        throw new FencedError(claim, reason);
      }
      try {
        await checkLeaseInTransaction(client, claim as LeaseClaim);
      } catch (error) {
        if (error instanceof FencedError) lose(error.message);
        throw error;
      }
    },
    confirm() {
      if (isHeldNow()) return;
      const reason = notHeldReason();
      lose(reason);
      throw new FencedError(claim, reason);
    },
    async stop() {
      if (isStopped) return;
      const held = isHeldNow() ? claim : undefined;
      isStopped = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      if (held)
        await lease
          .release(held)
          .then(() => logger.info({ epoch: held.epoch }, "leader lease released"))
          .catch((error: unknown) =>
            sayOnce(error, `cannot release the leader lease; it expires within ${ttlMs} ms`),
          );
    },
  };

  function notHeldReason(): string {
    if (claim === undefined) return "it is a standby (it never held the lease)";
    if (isStopped) return "it is stopping";
    if (isLost) return "it lost the lease";
    return `its lease ran out ${Math.round(now() - validUntilMs)} ms ago without a renewal`;
  }
}
