// One way to start a gRPC server. Every server brings server reflection (v1
// and v1alpha) that resolves well-known types, grpc.health.v1 (Check and
// Watch, per service name), message-size limits and keepalive, and stops
// gracefully: NOT_SERVING first, no new calls, in-flight calls finished,
// streams closed, then forced after the grace period.
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { serverCredentials } from "./transport-security.js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { adaptService } from "./grpc-server-adapter.js";
import { Code, ConnectError, resourceExhausted } from "./errors.js";
import { reflectionPackage } from "./reflection.js";

export interface ServiceRegistration<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: Partial<ServiceImpl<S>>;
}

/** Keeps the service's type parameter tied to its implementation. */
export function register<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
): ServiceRegistration {
  return { service, impl } as unknown as ServiceRegistration;
}

export interface RpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly services: readonly ServiceRegistration[];
  readonly logger: Logger;
  readonly maxMessageBytes?: number;
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly shutdownGraceMs?: number;
  /**
   * Calls one client connection may have open at once, so one connection
   * cannot hold the server's streams: one past it is answered
   * RESOURCE_EXHAUSTED naming the limit. HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
   * is twice it, so a client that floods past that waits in its own HTTP/2
   * stack rather than costing the server a refusal each. Default 1000.
   */
  readonly maxStreamsPerConnection?: number;
}

export interface RpcServer {
  readonly port: number;
  readonly address: string;
  /** Aborts when shutdown begins: long-lived streams end on it. */
  readonly shutdownSignal: AbortSignal;
  setServing(isServing: boolean): void;
  shutdown(): Promise<void>;
}

export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const maxStreamsPerConnection = options.maxStreamsPerConnection ?? 1000;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
    "grpc.keepalive_time_ms": options.keepaliveTimeMs ?? 10_000,
    "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs ?? 5_000,
    // Clients ping every keepalive_time_ms; allow it rather than GOAWAY them.
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 1_000,
    "grpc.max_concurrent_streams": 2 * maxStreamsPerConnection,
  });
  const shutdownController = new AbortController();
  const serviceNames = options.services.map((s) => s.service.typeName);
  const health = new HealthImplementation(
    Object.fromEntries(["", ...serviceNames].map((name) => [name, "NOT_SERVING"])),
  );
  health.addToServer(server);
  new ReflectionService(
    reflectionPackage(options.services.map((s) => s.service)) as never,
  ).addToServer(server);
  // Our own calls in progress. Health watches and reflection streams are not
  // counted: once our calls are done, shutdown closes those by force rather
  // than wait out the grace period for a probe that never hangs up.
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const openByPeer = new Map<string, number>();
  const tracker = {
    started: (peer: string) => {
      const open = openByPeer.get(peer) ?? 0;
      if (open >= maxStreamsPerConnection)
        throw resourceExhausted(
          `rpc.max_streams_per_connection: ${maxStreamsPerConnection} calls are already open on this connection; retry when one of them ends, or open another connection`,
        );
      openByPeer.set(peer, open + 1);
      inFlight += 1;
    },
    finished: (peer: string) => {
      const open = (openByPeer.get(peer) ?? 1) - 1;
      if (open === 0) openByPeer.delete(peer);
      else openByPeer.set(peer, open);
      inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    },
  };
  for (const { service, impl } of options.services) {
    const adapted = adaptService(service, impl, options.logger, shutdownController.signal, tracker);
    server.addService(adapted.definition, adapted.handlers);
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, serverCredentials(), (error, bound) => {
      if (error)
        reject(
          new Error(`cannot listen for gRPC on ${options.host}:${options.port}: ${error.message}`),
        );
      else resolve(bound);
    });
  });
  const setServing = (isServing: boolean): void => {
    for (const name of ["", ...serviceNames])
      health.setStatus(name, isServing ? "SERVING" : "NOT_SERVING");
  };
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      setServing(false);
      // Waiting calls (watches, sessions, AwaitTask) end with a retryable status;
      // short unary calls already running finish normally.
      shutdownController.abort(
        new ConnectError("server shutting down; retry against another instance", Code.Unavailable),
      );
      const graceMs = options.shutdownGraceMs ?? 10_000;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(force);
        server.forceShutdown();
        resolve();
      };
      const force = setTimeout(() => {
        options.logger.warn(
          { graceMs, inFlight },
          "calls still running after the grace period; forcing shutdown",
        );
        finish();
      }, graceMs);
      // No new calls from here on; the ones running finish (tryShutdown's
      // callback fires when every call, probes included, has ended).
      server.tryShutdown(finish);
      // When only probes and reflection are left, give the last responses a
      // moment to leave the socket, then close the rest.
      onIdle = () => setTimeout(finish, 100);
      if (inFlight === 0) onIdle();
    });
    return stopping;
  };
  return {
    port,
    address: `${options.host}:${port}`,
    shutdownSignal: shutdownController.signal,
    setServing,
    shutdown,
  };
}
