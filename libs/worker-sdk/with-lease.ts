// withLease(name, fn): run fn only while this process holds the named lease
// (the coordinator's Leases service), so one instance at a time runs a job.
// The lease is renewed every third of its TTL; fn gets the fencing token to
// stamp on what it writes, and a signal that aborts the moment the lease is
// lost (a renewal refused, or none answered before the lease ran out), so it
// can stop before another holder starts. The lease is released when fn ends.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { hostname } from "node:os";
import { Leases } from "../contracts/index.js";
import { Code, ConnectError, createRpcClient, type RpcClient } from "../rpc/index.js";

export interface HeldLease {
  readonly name: string;
  readonly holder: string;
  /** Larger for every new holder: stamp it on writes so a receiver can refuse older ones. */
  readonly fencingToken: bigint;
  /** Aborts when the lease is lost; the reason says why. */
  readonly signal: AbortSignal;
}

export interface WithLeaseOptions {
  /** A coordinator address or discovery URI, or a Leases client to use. */
  readonly coordinator: string | RpcClient<typeof Leases>;
  /** Default: this host's name and process id. */
  readonly holder?: string;
  /** Default 15 s. */
  readonly ttlMs?: number;
  /** How long to keep asking while someone else holds it; 0 (default) asks once. */
  readonly waitMs?: number;
  /** Between two asks while waiting. Default 1 s. */
  readonly retryMs?: number;
}

export type WithLeaseResult<T> =
  | { readonly ran: true; readonly value: T; readonly fencingToken: bigint }
  | { readonly ran: false; readonly holder: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withLease<T>(
  name: string,
  fn: (lease: HeldLease) => Promise<T>,
  options: WithLeaseOptions,
): Promise<WithLeaseResult<T>> {
  const owned = typeof options.coordinator === "string";
  const client =
    typeof options.coordinator === "string"
      ? createRpcClient(Leases, options.coordinator)
      : options.coordinator;
  const holder = options.holder ?? `${hostname()}:${process.pid}`;
  const ttlMs = options.ttlMs ?? 15_000;
  try {
    const waitUntil = Date.now() + (options.waitMs ?? 0);
    let answer = await client.acquireLease({ name, holder, ttl: durationFromMs(ttlMs) });
    while (!answer.acquired && Date.now() < waitUntil) {
      await sleep(Math.min(options.retryMs ?? 1_000, Math.max(0, waitUntil - Date.now())));
      answer = await client.acquireLease({ name, holder, ttl: durationFromMs(ttlMs) });
    }
    if (!answer.acquired) return { ran: false, holder: answer.holder };
    const fencingToken = answer.fencingToken;
    const lost = new AbortController();
    const renewals = keepRenewed(client, { name, holder, fencingToken, ttlMs }, lost);
    try {
      const value = await fn({ name, holder, fencingToken, signal: lost.signal });
      return { ran: true, value, fencingToken };
    } finally {
      renewals.stop();
      if (!lost.signal.aborted)
        await client.releaseLease({ name, holder, fencingToken }).catch(() => undefined);
    }
  } finally {
    if (owned) client.close();
  }
}

/** Renews every ttl/3; aborts `lost` when a renewal is refused or the lease runs out unrenewed. */
function keepRenewed(
  client: RpcClient<typeof Leases>,
  lease: { name: string; holder: string; fencingToken: bigint; ttlMs: number },
  lost: AbortController,
): { stop(): void } {
  let expiresAtMs = Date.now() + lease.ttlMs;
  let stopped = false;
  const deadline = setTimeout(function check() {
    if (stopped || lost.signal.aborted) return;
    if (Date.now() >= expiresAtMs)
      lost.abort(new Error(`lease ${lease.name} ran out with no renewal answered`));
    else deadline.refresh();
  }, 250);
  const timer = setInterval(() => {
    const askedAtMs = Date.now();
    client
      .renewLease(
        { name: lease.name, holder: lease.holder, fencingToken: lease.fencingToken },
        { timeoutMs: Math.max(500, lease.ttlMs / 3) },
      )
      .then(
        () => {
          // Counted from when it was asked: the lease may have been renewed any time after.
          expiresAtMs = askedAtMs + lease.ttlMs;
        },
        (error: unknown) => {
          const refused = ConnectError.from(error);
          if (refused.code === Code.FailedPrecondition) lost.abort(new Error(refused.rawMessage));
          // Anything else (the coordinator unreachable, a takeover): try again until it runs out.
        },
      );
  }, lease.ttlMs / 3);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(deadline);
    },
  };
}
