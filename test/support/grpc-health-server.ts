// A real grpc.health.v1 server on a free port, for tests in which a registry
// (a fake or real Consul agent) probes an instance's health: the test flips
// its status and watches the registry follow.
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";

export interface GrpcHealthServer {
  /** host:port as a check dials it. */
  readonly address: string;
  readonly port: number;
  /** The status of the whole server (service ""). */
  setStatus(status: ServingStatus): void;
  close(): Promise<void>;
}

export interface GrpcHealthServerOptions {
  /** Where to listen; "0.0.0.0" when the prober runs elsewhere (an agent in a container). Default 127.0.0.1. */
  readonly host?: string;
}

export async function startGrpcHealthServer(
  initial: ServingStatus,
  options: GrpcHealthServerOptions = {},
): Promise<GrpcHealthServer> {
  const host = options.host ?? "127.0.0.1";
  const server = new grpc.Server();
  const health = new HealthImplementation({ "": initial });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    address: `${host}:${port}`,
    port,
    setStatus: (status) => health.setStatus("", status),
    close: async () => server.forceShutdown(),
  };
}
