// The Leases service: named leases for users' jobs with fencing tokens, over
// the ledger's lease store (libs/ledger/user-leases.ts holds the rules).
// Every answer is given after the store has committed it.
import { durationMs, timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Leases } from "../../libs/contracts/index.js";
import type { UserLeaseStore } from "../../libs/ledger/user-leases.js";
import { failedPrecondition, invalidArgument } from "../../libs/rpc/index.js";

const NAME = /^[A-Za-z0-9._\-/:]{1,200}$/;
const MIN_TTL_MS = 1_000;
const MAX_TTL_MS = 3_600_000;

function checkedName(name: string): string {
  if (!NAME.test(name))
    throw invalidArgument(
      "name",
      `"${name.slice(0, 40)}" is not 1 to 200 characters of letters, digits and . _ - / :`,
    );
  return name;
}

function checkedHolder(holder: string): string {
  if (holder.length === 0 || holder.length > 200)
    throw invalidArgument("holder", `is ${holder.length} characters; give 1 to 200`);
  return holder;
}

function checkedTtl(ttl: Duration | undefined, field: string): number | undefined {
  if (ttl === undefined) return undefined;
  const ms = durationMs(ttl);
  if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS))
    throw invalidArgument(field, `${ms / 1000} s is outside 1 s to 3600 s`);
  return ms;
}

export function leasesService(
  store: UserLeaseStore,
  now: () => number = Date.now,
): ServiceImpl<typeof Leases> {
  return {
    async acquireLease(request) {
      const name = checkedName(request.name);
      const holder = checkedHolder(request.holder);
      const ttlMs = checkedTtl(request.ttl, "ttl");
      if (ttlMs === undefined) throw invalidArgument("ttl", "is required (1 s to 3600 s)");
      const { acquired, lease } = await store.acquire(name, holder, ttlMs, now());
      return {
        acquired,
        fencingToken: BigInt(lease.fencingToken),
        expiresAt: timestampFromMs(lease.expiresAtMs),
        holder: lease.holder,
      };
    },
    async renewLease(request) {
      const name = checkedName(request.name);
      const holder = checkedHolder(request.holder);
      const ttlMs = checkedTtl(request.ttl, "ttl");
      const token = Number(request.fencingToken);
      const renewed = await store.renew(name, holder, token, ttlMs, now());
      if (!renewed)
        throw failedPrecondition(
          `lease ${name} is no longer held by ${holder} under fencing token ${token}: it expired or another holder took it; stop the work it guards`,
        );
      return { expiresAt: timestampFromMs(renewed.expiresAtMs) };
    },
    async releaseLease(request) {
      const name = checkedName(request.name);
      const holder = checkedHolder(request.holder);
      const released = await store.release(name, holder, Number(request.fencingToken), now());
      return { released };
    },
  };
}
