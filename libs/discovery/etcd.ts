// etcd://h1:2379[,h2:2379]/scalemesh/coordinator[?ttl_sec=10] : services put
// themselves under a key prefix, followers read and watch that prefix.
//
// Key layout: one key per running instance, `<prefix><instance id>`, e.g.
//
//   /scalemesh/coordinator/coordinator-host-7070
//     = {"address":"host:7070","region":"eu-west","zone":"eu-west-1a","meta":{"kind":"coordinator"}}
//
// (value format and the hand-written "host:port" form: etcd-record.ts). The
// registrar puts the key on a lease of ttl_sec and keeps the lease alive, so
// an instance that dies without deregistering (SIGKILL, a lost host) drops
// out when the lease runs out; deregistering revokes the lease, which deletes
// the key at once. The endpoint's id is the key after the prefix.
import { fileNamedBy } from "./env-file.js";
import { Etcd3, type IKeyValue, type Lease, type Watcher } from "etcd3";
import { backoffDelayMs, type BackoffPolicy } from "../backoff/index.js";
import type { EtcdTarget } from "./endpoint-uri.js";
import type { DiscoveredEndpoint, WatchFunction } from "./endpoint-watch.js";
import { decodeEtcdRecord, encodeEtcdRecord } from "./etcd-record.js";
import type { Registrar, RegistrarOptions, ServiceInstance } from "./registrar.js";

/** Deadline of every unary call, so an etcd that accepts connections but never answers cannot stall a loop. */
const CALL_TIMEOUT_MS = 5_000;
/** How long register() waits for etcd before it gives up. */
const REGISTER_TIMEOUT_MS = 5_000;
/** How long close() and deregister() wait for etcd to confirm before they let go anyway. */
const SHUTDOWN_TIMEOUT_MS = 2_000;
/** No retry comes sooner than this, so a watch that breaks at once cannot turn into a busy loop against etcd. */
const RETRY_FLOOR_MS = 500;
const RETRY_MAX_MS = 5_000;
/** The random part on top of the floor: its ceiling doubles from 0.5 s per failure in a row, so the whole wait stays within 0.5–5 s. */
const RETRY_JITTER: BackoffPolicy = {
  initialMs: RETRY_FLOOR_MS,
  maxMs: RETRY_MAX_MS - RETRY_FLOOR_MS,
};

export const watchEtcd: WatchFunction<EtcdTarget> = (target, sink, options) => {
  const where = describeTarget(target);
  const logger = options.logger?.child({ etcd: target.hosts.join(","), prefix: target.prefix });
  const random = options.random ?? Math.random;
  const client = createEtcdClient(target);
  const endpoints = new Map<string, DiscoveredEndpoint>();
  // Keys already warned about, so a bad value is logged once, not on every re-read.
  const unreadableKeys = new Set<string>();
  let watcher: Watcher | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let lastCause: string | undefined;
  // Bumped by every new attempt and by close(), so the late answer of an abandoned attempt is dropped.
  let attempt = 0;
  let isClosed = false;

  const publish = () => {
    try {
      sink.publish([...endpoints.values()].sort((a, b) => (a.id ?? "").localeCompare(b.id ?? "")));
    } catch (error) {
      logger?.error({ err: error }, "an etcd endpoint subscriber threw");
    }
  };

  const apply = (kv: IKeyValue) => {
    const key = kv.key.toString();
    const id = key.slice(target.prefix.length);
    const record = decodeEtcdRecord(kv.value.toString());
    if (!record.ok) {
      endpoints.delete(key);
      if (!unreadableKeys.has(key))
        logger?.warn(
          { key, error: record.error },
          "ignoring an etcd key whose value is not an endpoint",
        );
      unreadableKeys.add(key);
      return;
    }
    unreadableKeys.delete(key);
    endpoints.set(key, {
      address: record.address,
      priority: 0,
      weight: 1,
      id,
      ...(record.region ? { region: record.region } : {}),
      ...(record.zone ? { zone: record.zone } : {}),
    });
  };

  // One pass: read the whole prefix, publish it, then follow changes from the
  // revision right after the read, so nothing written in between is missed.
  // Any break goes back to a fresh read after a backoff.
  async function follow(): Promise<void> {
    if (isClosed) return;
    const mine = ++attempt;
    let revision: string;
    let kvs: IKeyValue[];
    try {
      // Our own bound too: the library retries a timed-out call, which would triple the wait.
      const response = await withTimeout(
        client.getAll().prefix(target.prefix).exec(),
        CALL_TIMEOUT_MS,
        `no answer within ${CALL_TIMEOUT_MS} ms`,
      );
      revision = response.header.revision;
      kvs = response.kvs;
    } catch (error) {
      if (mine !== attempt || isClosed) return;
      lastCause = causeOf(error, lastCause);
      retry(
        `${where} unreachable: ${lastCause}; check that etcd runs there and answers on that client port`,
      );
      return;
    }
    if (mine !== attempt || isClosed) return;
    endpoints.clear();
    for (const kv of kvs) apply(kv);
    publish();
    startWatch(String(Number(revision) + 1));
  }

  function startWatch(fromRevision: string): void {
    // watcher() attaches at once (create() would hide a disconnect that comes
    // before the first "connected"), so every handler is in place before etcd answers.
    const next = client.watch().prefix(target.prefix).startRevision(fromRevision).watcher();
    watcher = next;
    let isChanged = false;
    next.on("connected", () => {
      failures = 0;
      lastCause = undefined;
    });
    // The library emits put/delete per event, then "data" once per response:
    // publish once per response, not once per key.
    next.on("put", (kv) => {
      apply(kv);
      isChanged = true;
    });
    next.on("delete", (kv) => {
      const key = kv.key.toString();
      endpoints.delete(key);
      unreadableKeys.delete(key);
      isChanged = true;
    });
    next.on("data", () => {
      if (!isChanged || next !== watcher) return;
      isChanged = false;
      publish();
    });
    next.on("disconnected", (error) => {
      lastCause = messageOf(error);
      restart(
        next,
        `${where} unreachable, watch broken: ${lastCause}; check that etcd runs there`,
        true,
      );
    });
    // Not recoverable by the library (e.g. our revision was compacted away): read afresh.
    next.on("error", (error) =>
      restart(
        next,
        `${where}: watch cancelled by etcd: ${messageOf(error)}; re-reading the prefix`,
        false,
      ),
    );
  }

  function restart(broken: Watcher, message: string, needsCancel: boolean): void {
    if (isClosed || broken !== watcher) return;
    watcher = undefined;
    // Take over reconnecting: the library would resume the stream on its own,
    // but only a fresh read tells the sink that etcd is back.
    if (needsCancel) broken.cancel().catch(() => {});
    retry(message);
  }

  function retry(message: string): void {
    sink.fail(message);
    failures += 1;
    const delayMs = retryDelayMs(failures, random);
    logger?.debug({ delayMs }, "retrying etcd");
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void follow();
    }, delayMs);
  }

  queueMicrotask(() => void follow());

  return {
    refresh: () => {
      // Changes are pushed while the watch runs; only a pending retry is brought forward.
      if (retryTimer === undefined || isClosed) return;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      void follow();
    },
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      attempt += 1;
      clearTimeout(retryTimer);
      const last = watcher;
      watcher = undefined;
      if (last)
        await withTimeout(last.cancel(), SHUTDOWN_TIMEOUT_MS, "cancelling the etcd watch").catch(
          () => {},
        );
      client.close();
    },
  };
};

export function createEtcdRegistrar(
  target: EtcdTarget,
  instance: ServiceInstance,
  options: RegistrarOptions,
): Registrar {
  const key = `${target.prefix}${instance.id}`;
  const value = encodeEtcdRecord(instance);
  const where = describeTarget(target);
  const logger = options.logger?.child({ etcd: target.hosts.join(","), key });
  let client: Etcd3 | undefined;
  // The lease our key is on right now; a loss of any other (older, or one still being granted) is not ours to mend.
  let liveLease: Lease | undefined;
  let pendingLease: Lease | undefined;
  let regrantTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  // The register() under way or done, so a second call waits for the same one.
  let registration: Promise<void> | undefined;

  async function putOnNewLease(on: Etcd3): Promise<Lease> {
    const lease = on.lease(target.ttlSec);
    pendingLease = lease;
    lease.on("lost", (error) => onLost(lease, error));
    try {
      // put() waits for the grant and rejects if it fails; the library then keeps the lease alive.
      await lease.put(key).value(value);
      return lease;
    } catch (error) {
      // A lease granted for a put that failed would otherwise be kept alive for nothing.
      if (pendingLease === lease) pendingLease = undefined;
      lease.revoke().catch(() => {});
      throw error;
    }
  }

  function onLost(lease: Lease, error: Error): void {
    if (lease !== liveLease || client === undefined) return;
    liveLease = undefined;
    logger?.warn({ err: error }, "etcd lease lost; registering again");
    scheduleRegrant(client);
  }

  function scheduleRegrant(on: Etcd3): void {
    failures += 1;
    const delayMs = retryDelayMs(failures, Math.random);
    regrantTimer = setTimeout(() => {
      regrantTimer = undefined;
      putOnNewLease(on).then(
        (lease) => {
          if (on !== client) return void lease.revoke().catch(() => {});
          liveLease = lease;
          pendingLease = undefined;
          failures = 0;
          logger?.info("registered in etcd again on a new lease");
        },
        (error: unknown) => {
          if (on !== client) return;
          logger?.warn({ err: error, delayMs }, "registering in etcd again failed; retrying");
          scheduleRegrant(on);
        },
      );
    }, delayMs);
  }

  async function registerOnce(): Promise<void> {
    const on = createEtcdClient(target);
    client = on;
    try {
      const lease = await withTimeout(
        putOnNewLease(on),
        REGISTER_TIMEOUT_MS,
        `no answer within ${REGISTER_TIMEOUT_MS} ms`,
      );
      if (on !== client) throw new Error("deregistered while registering");
      liveLease = lease;
      pendingLease = undefined;
      logger?.info({ ttlSec: target.ttlSec }, "registered in etcd");
    } catch (error) {
      // Not awaited: a grant still on its way is revoked when it lands, and the caller should hear now.
      if (on === client) void release();
      throw new Error(
        `could not register ${instance.id} as ${key} in ${where}: ${messageOf(error)}; check that etcd runs there and answers on that client port`,
      );
    }
  }

  async function release(): Promise<void> {
    clearTimeout(regrantTimer);
    regrantTimer = undefined;
    const leases = [liveLease, pendingLease].filter((lease): lease is Lease => lease !== undefined);
    const closing = client;
    client = undefined;
    liveLease = undefined;
    pendingLease = undefined;
    // Revoking deletes the key now; if etcd cannot be reached the key still goes when its ttl runs out.
    for (const lease of leases) {
      await withTimeout(lease.revoke(), SHUTDOWN_TIMEOUT_MS, "revoking the etcd lease").catch(
        (error: unknown) => {
          logger?.warn(
            { err: error },
            `could not revoke the etcd lease; the key expires within ${target.ttlSec} s`,
          );
        },
      );
    }
    closing?.close();
  }

  return {
    uri: `etcd://${target.hosts.join(",")}${target.prefix.replace(/\/$/, "")}?ttl_sec=${target.ttlSec}`,
    register: () => {
      if (registration) return registration;
      const current = registerOnce().catch((error: unknown) => {
        if (registration === current) registration = undefined;
        throw error;
      });
      registration = current;
      return current;
    },
    deregister: async () => {
      registration = undefined;
      if (client === undefined) return;
      await release();
      logger?.info("deregistered from etcd");
    },
  };
}

/**
 * TLS and credentials for etcd from the variables etcdctl itself reads:
 * ETCDCTL_CACERT (then https, the server checked against that CA),
 * ETCDCTL_CERT and ETCDCTL_KEY (a client certificate, for
 * --client-cert-auth), ETCDCTL_USER ("name:password", for etcd's auth).
 * Exported for tests; a file that cannot be read throws, naming the variable.
 */
export function etcdSecurityOf(env: NodeJS.ProcessEnv): {
  scheme: "http" | "https";
  credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  auth?: { username: string; password: string };
} {
  const read = (name: string): Buffer | undefined => fileNamedBy(env, name);
  const ca = read("ETCDCTL_CACERT");
  const cert = read("ETCDCTL_CERT");
  const key = read("ETCDCTL_KEY");
  const user = env.ETCDCTL_USER ?? "";
  const colon = user.indexOf(":");
  return {
    scheme: ca ? "https" : "http",
    ...(ca
      ? {
          credentials: {
            rootCertificate: ca,
            ...(cert && key ? { certChain: cert, privateKey: key } : {}),
          },
        }
      : {}),
    ...(colon > 0
      ? { auth: { username: user.slice(0, colon), password: user.slice(colon + 1) } }
      : {}),
  };
}

function createEtcdClient(target: EtcdTarget): Etcd3 {
  const { scheme, credentials, auth } = etcdSecurityOf(process.env);
  return new Etcd3({
    hosts: target.hosts.map((host) => `${scheme}://${host}`),
    ...(credentials ? { credentials } : {}),
    ...(auth ? { auth } : {}),
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS },
    // The library's own watch reconnect waits up to 30 s; we restart watches
    // ourselves, so keep its leftover timer short.
    faultHandling: { watchBackoff: CONSTANT_WATCH_BACKOFF },
  });
}

const CONSTANT_WATCH_BACKOFF = { duration: RETRY_FLOOR_MS, next: () => CONSTANT_WATCH_BACKOFF };

function describeTarget(target: EtcdTarget): string {
  return `etcd at ${target.hosts.join(",")} (prefix ${target.prefix})`;
}

/**
 * The wait after `failures` failures in a row (1 = the first): the 0.5 s
 * floor plus full jitter below a ceiling that doubles per failure (0.5, 1,
 * 2, 4, 4.5 s), so many followers of one etcd do not retry in step.
 */
export function retryDelayMs(failures: number, random: () => number): number {
  return RETRY_FLOOR_MS + backoffDelayMs(RETRY_JITTER, failures, random);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(what)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * etcd3 stops calling a host for 5 s after three failures in a row and says
 * only "circuit breaker is open"; the failure before that says what is wrong.
 */
function causeOf(error: unknown, previous: string | undefined): string {
  const isBreakerOpen =
    typeof error === "object" && error !== null && "isBrokenCircuitError" in error;
  return isBreakerOpen && previous !== undefined ? previous : messageOf(error);
}

function messageOf(error: unknown): string {
  // grpc-js ends connection errors with an empty "Resolution note: ".
  return (error instanceof Error ? error.message : String(error)).replace(
    /\.? Resolution note: ?$/,
    "",
  );
}
