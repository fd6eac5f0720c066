// A coordinator replica on a shared PostgreSQL ledger, before and after it
// leads. standByUntilLeader serves the standby host (standby-host.ts) on the
// coordinator's ports and runs the election (leader-election.ts) until this
// replica holds the lease; only then does main.ts open the ledger (recover),
// start the real host on the same ports and register in discovery, so
// workers and balancers only ever find the leader.
//
// Losing the lease is final for the process: it stops answering as leader
// (health NOT_SERVING), deregisters, and exits with EXIT_LEADERSHIP_LOST
// within STEP_DOWN_TIMEOUT_MS. Its memory (the ledger, the sessions) is stale
// the moment another replica leads, and starting afresh as a standby (a
// supervisor's restart: systemd Restart=always, a Kubernetes pod) is the one
// way to be sure none of it is acted on. Its commits are fenced meanwhile.
import type { Logger } from "pino";
import { createLedgerPool } from "../../libs/ledger/postgres-pool.js";
import {
  createLeaderLeaseStore,
  type LeaderLeaseStore,
  type LeaseClaim,
} from "../../libs/ledger/leader-lease.js";
import { Admin, Coordinator as CoordinatorService, Leases } from "../../libs/contracts/index.js";
import { advertisedHost } from "../../libs/discovery/index.js";
import { startLeaderElection, type LeaderElection } from "./leader-election.js";
import { startStandbyHost, type StandbyHostOptions } from "./standby-host.js";

/** The exit status of a coordinator that lost its leader lease (a supervisor restarts it as a standby). */
export const EXIT_LEADERSHIP_LOST = 3;
/** How long stepping down may take before the process exits anyway. */
export const STEP_DOWN_TIMEOUT_MS = 1_500;
/** The lease row's name: one leader per database. */
export const COORDINATOR_LEASE_NAME = "coordinator";

export interface StandbyOptions extends Omit<
  StandbyHostOptions,
  "services" | "reason" | "grpcPort" | "httpPort"
> {
  readonly url: string;
  readonly ttlMs: number;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** coordinator.advertise_host: what the lease row says about where this replica is. */
  readonly advertiseHost: string;
  readonly logger: Logger;
}

export interface Leadership {
  /** The store's WriteFence. */
  readonly election: LeaderElection;
  readonly claim: LeaseClaim;
  /** The ports the standby host had (the leader's host takes the same ones, even when the config said 0). */
  readonly grpcPort: number;
  readonly httpPort: number;
  /** What to do before exiting when the lease is lost (stop answering as leader, deregister). */
  onStepDown(stepDown: () => Promise<void>): void;
  /** A graceful stop, after the last commit: lets the lease expire now so a standby takes over at once. */
  release(): Promise<void>;
}

/** Serves as a standby until this replica leads; exits the process on SIGTERM/SIGINT meanwhile. */
export async function standByUntilLeader(options: StandbyOptions): Promise<Leadership> {
  const { url, ttlMs, logger, advertiseHost: configuredHost, ...hostOptions } = options;
  // Its own connections: a renewal must not wait behind the store's commits for a connection.
  const pool = createLedgerPool({ url, max: 2, queryTimeoutMs: ttlMs });
  const lease = createLeaderLeaseStore(pool, COORDINATOR_LEASE_NAME);
  let election: LeaderElection | undefined;
  const standby = await startStandbyHost({
    ...hostOptions,
    logger,
    services: [CoordinatorService, Admin, Leases],
    reason: () => {
      const leader = election?.leaderAddress;
      return leader ? `standby; the leader is ${leader}` : "standby; no coordinator leads yet";
    },
  });
  const grpcPort = standby.grpc.port;
  const httpPort = standby.http.port;
  const host = advertisedHost(options.host, configuredHost);
  const holder = `${host.includes(":") ? `[${host}]` : host}:${grpcPort}`;

  let stepDown: () => Promise<void> = async () => {};
  const onLost = (reason: string): void => {
    const timer = setTimeout(() => exit("step-down timed out"), STEP_DOWN_TIMEOUT_MS);
    stepDown().then(
      () => exit(reason),
      (error: unknown) =>
        exit(
          `${reason}; step-down failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    );
    function exit(why: string): void {
      clearTimeout(timer);
      logger.fatal(
        { reason: why, exitCode: EXIT_LEADERSHIP_LOST },
        "stepped down: exiting so this coordinator comes back as a standby",
      );
      logger.flush();
      process.exit(EXIT_LEADERSHIP_LOST);
    }
  };

  // Until it leads, a signal stops the standby (main.ts's own stop takes over once it does).
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, "stopping as a standby");
    void Promise.all([election?.stop(), standby.stop()]).finally(() => {
      void pool.end().catch(() => undefined);
      logger.flush();
      process.exit(0);
    });
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  await ensureLeaseTable(lease, logger);
  election = startLeaderElection({
    lease,
    name: COORDINATOR_LEASE_NAME,
    holder,
    ttlMs,
    logger,
    onLost,
  });
  logger.info(
    { grpc: standby.grpc.address, httpPort, grpcPort, holder, leaseMs: ttlMs },
    "coordinator standing by",
  );
  const running = election;
  const claim = await running.leading;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  await standby.stop();
  return {
    election: running,
    claim,
    grpcPort,
    httpPort,
    onStepDown: (next) => (stepDown = next),
    release: async () => {
      await running.stop();
      await pool.end().catch(() => undefined);
    },
  };
}

/** The lease table, created by the first replica to get there; a database that is down is waited for. */
async function ensureLeaseTable(lease: LeaderLeaseStore, logger: Logger): Promise<void> {
  let lastError: string | undefined;
  for (;;) {
    try {
      await lease.ensureTable();
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError)
        logger.warn(
          { err: message },
          "cannot reach the ledger database for the leader lease; retrying",
        );
      lastError = message;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
