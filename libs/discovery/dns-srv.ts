// dns+srv://[server:port/]_service._proto.name : follows a DNS SRV name.
// Each round asks for the SRV records, orders them per RFC 2782 and looks up
// every target's addresses with the same resolver, because grpc-js (and
// dns.lookup) would ask the system's resolvers and never see our server.
import type { SrvRecord } from "node:dns";
import { lookup, Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "pino";
import { backoffCeilingMs } from "../backoff/index.js";
import type { DnsSrvTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, WatchFunction } from "./endpoint-watch.js";
import { orderSrvRecords } from "./srv-order.js";

/** No two rounds start closer than this, whatever the TTLs or refresh() calls say. */
export const MIN_RESOLVE_GAP_MS = 1000;
const QUERY_TIMEOUT_MS = 2000;
const QUERY_TRIES = 2;

// The server answered "there are none": a real, empty answer.
const NO_RECORDS_CODES = new Set(["ENOTFOUND", "ENODATA"]);
// The server could not be asked at all. An address lookup meeting one of
// these fails the round; other address errors fall back to the host name.
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ETIMEOUT", "ECANCELLED"]);

const HINTS: Record<string, string> = {
  ECONNREFUSED: "nothing answers there; check that the DNS server runs and listens on that address",
  ETIMEOUT: `no reply in ${QUERY_TRIES} tries of ${QUERY_TIMEOUT_MS} ms; check that the DNS server runs and is reachable`,
  ESERVFAIL: "the server failed to answer (SERVFAIL); check its zone or its upstream",
  EREFUSED: "the server refused the query; check that it serves this zone",
};

export const watchDnsSrv: WatchFunction<DnsSrvTarget> = (target, sink, options) => {
  const uri = `dns+srv://${target.server !== undefined ? `${target.server}/` : ""}${target.name}`;
  const serverText = target.server ?? "the system's DNS servers";
  const logger = options.logger?.child({ component: "discovery.dns-srv", uri });
  const random = options.random ?? Math.random;
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  let isServerSet = target.server === undefined;
  let isClosed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerDueMs = Infinity;
  let round: Promise<void> | undefined;
  let lastStartMs = -Infinity;
  let isRefreshWanted = false;
  /** Failed rounds in a row; sets the wait before the next one. */
  let failures = 0;

  const schedule = (delayMs: number) => {
    clearTimeout(timer);
    timerDueMs = Date.now() + delayMs;
    timer = setTimeout(startRound, delayMs);
  };

  const startRound = () => {
    timer = undefined;
    timerDueMs = Infinity;
    isRefreshWanted = false;
    lastStartMs = Date.now();
    round = resolveRound().then((delayMs) => {
      round = undefined;
      if (isClosed) return;
      schedule(
        isRefreshWanted
          ? Math.min(delayMs, Math.max(0, lastStartMs + MIN_RESOLVE_GAP_MS - Date.now()))
          : delayMs,
      );
    });
  };

  /** One round; never rejects. Returns the delay until the next one. */
  const resolveRound = async (): Promise<number> => {
    try {
      if (!isServerSet && target.server !== undefined) {
        resolver.setServers([await serverAddress(target.server)]);
        isServerSet = true;
      }
      const answer = await lookUpEndpoints(resolver, target.name, random, logger);
      if (isClosed) return 0;
      failures = 0;
      sink.publish(answer.endpoints);
      return nextResolveDelayMs(target.intervalSec, answer.minTtlSec);
    } catch (error) {
      if (isClosed) return 0;
      const code = errorCode(error);
      const hint = HINTS[code] ?? "check the DNS server and the name";
      sink.fail(
        `${uri}: looking up SRV ${target.name} via ${serverText} failed (${code}): ${hint}`,
      );
      // From 1 s, doubling, up to the normal interval, as README.md says; no
      // jitter, which would break "never more than once a second".
      failures += 1;
      return backoffCeilingMs(
        { initialMs: MIN_RESOLVE_GAP_MS, maxMs: target.intervalSec * 1000 },
        failures,
      );
    }
  };

  schedule(0);

  return {
    refresh: () => {
      if (isClosed) return;
      if (round !== undefined) {
        isRefreshWanted = true;
        return;
      }
      const dueMs = Math.max(Date.now(), lastStartMs + MIN_RESOLVE_GAP_MS);
      if (timerDueMs > dueMs) schedule(dueMs - Date.now());
    },
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      clearTimeout(timer);
      // Pending queries reject with ECANCELLED, which the closed round ignores.
      resolver.cancel();
      await round;
    },
  };
};

/**
 * The next round is due after the interval, or sooner when an address record
 * would expire first, but never sooner than MIN_RESOLVE_GAP_MS.
 */
export function nextResolveDelayMs(intervalSec: number, minTtlSec: number | undefined): number {
  const seconds = minTtlSec === undefined ? intervalSec : Math.min(intervalSec, minTtlSec);
  return Math.max(MIN_RESOLVE_GAP_MS, seconds * 1000);
}

interface Answer {
  readonly endpoints: DiscoveredEndpoint[];
  /** The shortest TTL among the address records, when any came from DNS. */
  readonly minTtlSec: number | undefined;
}

interface TargetAddresses {
  readonly hosts: readonly string[];
  readonly ttlSec?: number;
}

async function lookUpEndpoints(
  resolver: Resolver,
  name: string,
  random: () => number,
  logger: Logger | undefined,
): Promise<Answer> {
  // A target of "." means "decidedly not available here" (RFC 2782).
  const records = (await resolveSrvOrNone(resolver, name)).filter(
    (r) => r.name !== "" && r.name !== ".",
  );
  // Sorted first so that an injected random source replays the same order.
  records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port));
  const ordered = orderSrvRecords(records, random);
  const targets = [...new Set(ordered.map((record) => record.name))];
  const found = await Promise.all(targets.map((host) => lookUpAddresses(resolver, host, logger)));
  const addresses = new Map(targets.map((host, i) => [host, found[i]] as const));
  // Several addresses of one target are several endpoints sharing the record's id.
  const endpoints = ordered.flatMap((record) =>
    (addresses.get(record.name)?.hosts ?? []).map((host) => ({
      address: joinHostPort(host, record.port),
      priority: record.priority,
      weight: record.weight,
      id: `${record.name}:${record.port}`,
    })),
  );
  const ttls = [...addresses.values()].flatMap((a) => (a.ttlSec === undefined ? [] : [a.ttlSec]));
  return { endpoints, minTtlSec: ttls.length > 0 ? Math.min(...ttls) : undefined };
}

async function resolveSrvOrNone(resolver: Resolver, name: string): Promise<SrvRecord[]> {
  try {
    return await resolver.resolveSrv(name);
  } catch (error) {
    if (NO_RECORDS_CODES.has(errorCode(error))) return [];
    throw error;
  }
}

/** A, else AAAA, from our resolver; the host name itself when neither answers (the system resolver may know it). */
async function lookUpAddresses(
  resolver: Resolver,
  host: string,
  logger: Logger | undefined,
): Promise<TargetAddresses> {
  if (isIP(host) !== 0) return { hosts: [host] };
  const reasons: string[] = [];
  for (const query of [
    () => resolver.resolve4(host, { ttl: true }),
    () => resolver.resolve6(host, { ttl: true }),
  ]) {
    try {
      const answers = await query();
      if (answers.length > 0)
        return {
          hosts: answers.map((a) => a.address),
          ttlSec: Math.min(...answers.map((a) => a.ttl)),
        };
    } catch (error) {
      const code = errorCode(error);
      if (UNREACHABLE_CODES.has(code)) throw error;
      reasons.push(code);
    }
  }
  logger?.debug(
    { host, reasons },
    "no address record for an SRV target; leaving the name to the system resolver",
  );
  return { hosts: [host] };
}

/** The server as setServers wants it: an IP literal with its port, a host name looked up once. */
async function serverAddress(server: string): Promise<string> {
  const colon = server.lastIndexOf(":");
  const host = server.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(server.slice(colon + 1));
  if (isIP(host) !== 0) return joinHostPort(host, port);
  try {
    return joinHostPort((await lookup(host)).address, port);
  } catch {
    throw new Error(`the DNS server's host name ${host} does not resolve`);
  }
}

function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}
