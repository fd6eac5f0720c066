// Per-client limits on Assign: a token bucket (rate and burst) and a ceiling
// on calls in flight, for each client identity, so that one client's flood
// is refused before it takes the mesh from the others. Over a limit the
// answer is RESOURCE_EXHAUSTED naming the limit and when to retry. The
// identity is the role token's holder when roles are on; without them every
// caller is "anonymous" and shares one bucket. Idle buckets are forgotten.
import { decodeJwt } from "jose";
import { resourceExhausted } from "../rpc/errors.js";
import { bearerTokenOf } from "./join-token.js";

export interface ClientLimits {
  /** Assigns per second per client, refilled continuously; 0: no rate limit. */
  readonly ratePerSec: number;
  /** Assigns a client may make at once after being idle; at least 1. */
  readonly burst: number;
  /** Assigns of one client in progress at once; 0: no limit. */
  readonly maxInFlight: number;
}

export interface Admission {
  /** Call once the Assign is over, whatever its outcome. */
  release(): void;
}

export interface ClientLimiter {
  /** Admits one Assign of `client`, or throws RESOURCE_EXHAUSTED. */
  admit(client: string): Admission;
}

const IDLE_FORGET_MS = 10 * 60_000;
const MAX_CLIENTS = 100_000;

interface Bucket {
  tokens: number;
  updatedMs: number;
  inFlight: number;
}

export function createClientLimiter(
  limits: ClientLimits,
  now: () => number = Date.now,
): ClientLimiter {
  const buckets = new Map<string, Bucket>();
  const burst = Math.max(1, limits.burst);
  let lastSweepMs = now();
  const sweep = (nowMs: number): void => {
    if (nowMs - lastSweepMs < IDLE_FORGET_MS && buckets.size < MAX_CLIENTS) return;
    lastSweepMs = nowMs;
    for (const [client, bucket] of buckets)
      if (bucket.inFlight === 0 && nowMs - bucket.updatedMs > IDLE_FORGET_MS)
        buckets.delete(client);
  };
  return {
    admit(client) {
      const nowMs = now();
      sweep(nowMs);
      let bucket = buckets.get(client);
      if (!bucket) {
        bucket = { tokens: burst, updatedMs: nowMs, inFlight: 0 };
        buckets.set(client, bucket);
      }
      if (limits.ratePerSec > 0) {
        bucket.tokens = Math.min(
          burst,
          bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * limits.ratePerSec,
        );
      }
      bucket.updatedMs = nowMs;
      if (limits.maxInFlight > 0 && bucket.inFlight >= limits.maxInFlight)
        throw resourceExhausted(
          `client "${client}" already has ${bucket.inFlight} Assigns in flight (balancer.client_max_in_flight ${limits.maxInFlight}); retry when one has answered`,
        );
      if (limits.ratePerSec > 0) {
        if (bucket.tokens < 1) {
          const retryMs = Math.ceil(((1 - bucket.tokens) / limits.ratePerSec) * 1000);
          throw resourceExhausted(
            `client "${client}" is over balancer.client_rate_per_sec (${limits.ratePerSec}/s, burst ${burst}); retry in ${retryMs} ms`,
          );
        }
        bucket.tokens -= 1;
      }
      bucket.inFlight += 1;
      const held = bucket;
      let isReleased = false;
      return {
        release() {
          if (isReleased) return;
          isReleased = true;
          held.inFlight -= 1;
        },
      };
    },
  };
}

/**
 * Who is calling, for limits: the holder a role token names (the token was
 * verified before the handler ran when roles are on), else "anonymous".
 */
export function clientIdentity(authorization: string | null, isVerified: boolean): string {
  if (!isVerified) return "anonymous";
  const token = bearerTokenOf(authorization);
  if (!token) return "anonymous";
  try {
    const holder = decodeJwt(token).sub;
    return typeof holder === "string" && holder !== "" ? holder : "anonymous";
  } catch {
    return "anonymous";
  }
}
