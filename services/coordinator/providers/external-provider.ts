// The external provider acts on nothing: something else runs the workers
// (KEDA, an HPA, a person) and reads the autoscaler's desired count from
// /metrics (scalemesh_autoscaler_desired_workers). It declares that it can
// neither start nor stop, so the loop records its decisions and asks nothing.
import type { ProviderCapabilities, WorkerProvider } from "./worker-provider.js";

export const EXTERNAL_CAPABILITIES: ProviderCapabilities = {
  canStart: false,
  canStop: false,
  stopOnScaleDown: "after-drain",
};

export function createExternalProvider(): WorkerProvider {
  const refuse = async (): Promise<never> => {
    throw new Error(
      "the external provider starts and stops nothing; run workers yourself and scale them on scalemesh_autoscaler_desired_workers",
    );
  };
  return {
    kind: "external",
    capabilities: EXTERNAL_CAPABILITIES,
    list: async () => [],
    start: refuse,
    stop: async () => {},
    replace: refuse,
    health: async () => "unknown",
    close: async () => {},
  };
}
