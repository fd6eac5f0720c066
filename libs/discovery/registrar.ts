// How a service puts itself where others look for it. Only schemes with a
// registry of their own register (Consul, etcd); for static, DNS SRV and
// Kubernetes the operator or the platform keeps the list.
import type { Logger } from "pino";

export interface ServiceInstance {
  /** Unique per running instance, stable across re-registrations (e.g. coordinator-host-7070). */
  readonly id: string;
  /** The address others connect to (not 0.0.0.0). */
  readonly host: string;
  readonly port: number;
  readonly region: string;
  readonly zone: string;
  /** Extra key/values shown in the registry (kind, version). */
  readonly meta: Readonly<Record<string, string>>;
  /** What the registry probes: a gRPC health check on host:port, or an HTTP URL answering 200. */
  readonly check:
    | { readonly kind: "grpc"; readonly address: string }
    | { readonly kind: "http"; readonly url: string };
}

export interface Registrar {
  readonly uri: string;
  /** Registers, and keeps the registration alive (an etcd lease) until deregister(). Rejects if the registry cannot be reached. */
  register(): Promise<void>;
  /** Removes the registration; safe to call twice or after a failed register(). */
  deregister(): Promise<void>;
}

export interface RegistrarOptions {
  readonly logger?: Logger;
}
