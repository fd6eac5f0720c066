// Prometheus metrics for every service (one registry per process).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "scalemesh_" });

export const rpcHandled = new Counter({
  name: "scalemesh_rpc_server_handled_total",
  help: "RPCs completed on this server, by service, method and status code.",
  labelNames: ["service", "method", "code"] as const,
  registers: [registry],
});

export const rpcHandlingSeconds = new Histogram({
  name: "scalemesh_rpc_server_handling_seconds",
  help: "Time to handle a unary RPC, by service and method.",
  labelNames: ["service", "method"] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export function setServiceLabel(service: string): void {
  registry.setDefaultLabels({ scalemesh_service: service });
}
