// What every service process runs: a gRPC port and an HTTP port started
// together, readiness wired to gRPC health, and one stop for both.
import type { Logger } from "pino";
import { startHttpServer, type HttpRoute, type HttpServer } from "./http-server.js";
import { startRpcServer, type RpcServer, type ServiceRegistration } from "./server.js";

export interface ServiceHostOptions {
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly logger: Logger;
  readonly services: readonly ServiceRegistration[];
  /** Served over Connect (JSON) on the HTTP port as well. */
  readonly connectServices?: readonly ServiceRegistration[];
  readonly routes?: readonly HttpRoute[];
  readonly maxMessageBytes: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly shutdownGraceMs: number;
  /** Calls one client connection may have open at once on the gRPC port. */
  readonly maxStreamsPerConnection?: number;
  /** Why the service cannot do its job yet (undefined when it can). */
  readonly notReadyReason?: () => string | undefined;
}

export interface ServiceHost {
  readonly grpc: RpcServer;
  readonly http: HttpServer;
  stop(): Promise<void>;
}

export async function startServiceHost(options: ServiceHostOptions): Promise<ServiceHost> {
  const grpc = await startRpcServer({
    host: options.host,
    port: options.grpcPort,
    services: options.services,
    logger: options.logger,
    maxMessageBytes: options.maxMessageBytes,
    keepaliveTimeMs: options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    shutdownGraceMs: options.shutdownGraceMs,
    ...(options.maxStreamsPerConnection !== undefined
      ? { maxStreamsPerConnection: options.maxStreamsPerConnection }
      : {}),
  });
  let stopping = false;
  const notReady = (): string | undefined =>
    stopping ? "shutting down" : options.notReadyReason?.();
  const http = await startHttpServer({
    host: options.host,
    port: options.httpPort,
    logger: options.logger,
    connectServices: options.connectServices,
    routes: options.routes,
    notReadyReason: notReady,
  });
  grpc.setServing(true);
  return {
    grpc,
    http,
    async stop() {
      stopping = true;
      await grpc.shutdown();
      await http.close();
    },
  };
}
