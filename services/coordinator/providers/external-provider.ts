// The external provider acts on nothing: something else runs the workers
// (KEDA, an HPA, a person) and reads the autoscaler's desired count from
// /metrics (scalemesh_autoscaler_desired_workers). The loop knows this kind
// and records its decisions without asking for starts or stops.
import type { WorkerProvider } from "./worker-provider.js";

export function createExternalProvider(): WorkerProvider {
  const refuse = async (): Promise<never> => {
    throw new Error("the external provider starts and stops nothing; run workers yourself and scale them on scalemesh_autoscaler_desired_workers");
  };
  return {
    kind: "external",
    list: async () => [],
    start: refuse,
    stop: async () => {},
    replace: refuse,
    health: async () => "unknown",
    close: async () => {},
  };
}
