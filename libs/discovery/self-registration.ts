// A service putting itself where others look for it, for as long as it runs.
// A registry that is down at start-up does not stop the service (clients
// given a static address still reach it): registration is retried in the
// background with backoff (full jitter, so a fleet that lost its registry
// together does not come back to it in step), and each failure is said once. On a graceful stop
// the registration goes first, so clients stop choosing this instance before
// its server stops answering.
import { hostname } from "node:os";
import type { Logger } from "pino";
import { backoffDelayMs, type BackoffPolicy } from "../backoff/index.js";
import { createRegistrar } from "./create-registrar.js";
import type { ServiceInstance } from "./registrar.js";

export interface SelfRegistration {
  /** Whether the registry holds this instance now. */
  readonly isRegistered: boolean;
  /** Stops retrying and deregisters, giving up after timeoutMs (the registry's own expiry then removes it). */
  stop(timeoutMs?: number): Promise<void>;
}

export interface SelfRegistrationOptions {
  /** consul://… or etcd://… ; checked with createRegistrar. */
  readonly uri: string;
  readonly instance: ServiceInstance;
  readonly logger: Logger;
  /** Ceiling of the wait before the first retry (default 1 s); it doubles per failure up to retryMaxMs (default 30 s). */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** [0, 1) like Math.random; injected by tests for the retry jitter. */
  readonly random?: () => number;
}

export type SelfRegistrationResult =
  | { readonly ok: true; readonly registration: SelfRegistration }
  | { readonly ok: false; readonly error: string };

export function startSelfRegistration(options: SelfRegistrationOptions): SelfRegistrationResult {
  const created = createRegistrar(options.uri, options.instance, { logger: options.logger });
  if (!created.ok) return created;
  const registrar = created.registrar;
  const log = options.logger.child({ registry: options.uri, instanceId: options.instance.id });
  const retry: BackoffPolicy = {
    initialMs: options.retryInitialMs ?? 1_000,
    maxMs: options.retryMaxMs ?? 30_000,
  };
  const random = options.random ?? Math.random;
  let failures = 0;
  let isRegistered = false;
  let isStopped = false;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;

  const tryRegister = async (): Promise<void> => {
    try {
      await registrar.register();
      if (isStopped) return;
      isRegistered = true;
      lastError = undefined;
      // The registrar says where, in its registry's terms; this line is for debugging the loop.
      log.debug({ address: `${options.instance.host}:${options.instance.port}` }, "registered");
    } catch (error) {
      if (isStopped) return;
      const message = error instanceof Error ? error.message : String(error);
      failures += 1;
      const delayMs = backoffDelayMs(retry, failures, random);
      if (message !== lastError)
        log.warn({ err: message, retryMs: delayMs }, "cannot register; retrying in the background");
      lastError = message;
      timer = setTimeout(() => {
        attempt = tryRegister();
      }, delayMs);
    }
  };
  attempt = tryRegister();

  return {
    ok: true,
    registration: {
      get isRegistered() {
        return isRegistered;
      },
      stop: async (timeoutMs = 3_000) => {
        isStopped = true;
        clearTimeout(timer);
        await attempt;
        let deadline: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          registrar.deregister().then(
            () => "deregistered" as const,
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          ),
          new Promise<string>((resolve) => {
            deadline = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
          }),
        ]);
        clearTimeout(deadline);
        if (outcome === "deregistered") {
          if (isRegistered) log.debug("deregistered");
        } else {
          log.warn(
            { err: outcome },
            "could not deregister; the registry's health check or lease will remove this instance",
          );
        }
        isRegistered = false;
      },
    },
  };
}

/** The host others should dial: the configured one, else the listen host unless it is a wildcard, else this machine's name. */
export function advertisedHost(listenHost: string, configuredHost: string): string {
  if (configuredHost !== "") return configuredHost;
  return ["0.0.0.0", "::", ""].includes(listenHost) ? hostname() : listenHost;
}

export interface ServiceRegistrationOptions {
  readonly kind: "coordinator" | "balancer" | "optimizer" | "worker-agent";
  /** The service's config section: `register` ("" registers nowhere), `host` it listens on, `advertise_host`. */
  readonly section: {
    readonly register: string;
    readonly host: string;
    readonly advertise_host: string;
  };
  /** Defaults to <kind>-<host>-<port>; worker agents pass their worker id. */
  readonly id?: string;
  readonly port: number;
  /** gRPC services are checked with grpc.health.v1 on their port; worker agents by HTTP GET on /readyz. */
  readonly check: "grpc" | "http";
  /** Where the service runs (the `scaling` section's region and zone). */
  readonly placement: { readonly region: string; readonly zone: string };
  readonly version: string;
  readonly logger: Logger;
}

/** Registers a service as its config says, or does nothing when it says "". The URI was checked with the config. */
export function registerService(options: ServiceRegistrationOptions): SelfRegistration | undefined {
  const uri = options.section.register;
  if (uri === "") return undefined;
  const host = advertisedHost(options.section.host, options.section.advertise_host);
  const address = `${host.includes(":") ? `[${host}]` : host}:${options.port}`;
  const started = startSelfRegistration({
    uri,
    logger: options.logger,
    instance: {
      id: options.id ?? `${options.kind}-${host}-${options.port}`,
      host,
      port: options.port,
      region: options.placement.region,
      zone: options.placement.zone,
      meta: { kind: options.kind, version: options.version },
      check:
        options.check === "grpc"
          ? { kind: "grpc", address }
          : { kind: "http", url: `http://${address}/readyz` },
    },
  });
  if (!started.ok) throw new Error(`cannot register with ${uri}: ${started.error}`);
  return started.registration;
}
