// The provider scaling.deployment_mode names, built from the config. The
// docker and kubernetes modules (and their client libraries) load only when
// chosen.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../../../libs/config/index.js";
import { projectRoot } from "../../../libs/telemetry/index.js";
import { createExternalProvider } from "./external-provider.js";
import { createLocalProvider } from "./local-provider.js";
import type { WorkerProvider } from "./worker-provider.js";

export async function createProvider(
  config: Config,
  options: { coordinatorUri: string; logDir: string; logger: Logger },
): Promise<WorkerProvider> {
  const a = config.autoscaler;
  const logger = options.logger.child({ provider: config.scaling.deployment_mode });
  switch (config.scaling.deployment_mode) {
    case "local":
      return createLocalProvider({
        coordinatorUri: options.coordinatorUri,
        workerPrefix: config.scaling.worker_prefix,
        slots: a.local_slots,
        handler: a.local_handler,
        logDir: options.logDir,
        agentEntry: join(projectRoot(), "dist", "services", "worker-agent", "main.js"),
        stopTimeoutMs: a.drain_timeout_sec * 1000,
        logger,
      });
    case "docker": {
      const { createDockerProvider } = await import("./docker-provider.js");
      const hasAuth = a.docker_registry_username !== "" || a.docker_registry_password !== "";
      return createDockerProvider({
        image: a.docker_image,
        workerPrefix: config.scaling.worker_prefix,
        ...(a.docker_network ? { network: a.docker_network } : {}),
        env: {
          SCALEMESH_WORKER_COORDINATOR: options.coordinatorUri,
          SCALEMESH_SCALING_REGION: config.scaling.region,
          SCALEMESH_SCALING_ZONE: config.scaling.zone,
        },
        pullImage: a.docker_pull,
        stopTimeoutSec: a.docker_stop_timeout_sec,
        ...(hasAuth
          ? {
              registryAuth: {
                username: a.docker_registry_username,
                password: a.docker_registry_password,
                serveraddress: registryOf(a.docker_image),
              },
            }
          : {}),
        logger,
      });
    }
    case "kubernetes": {
      const { createKubernetesProvider } = await import("./kubernetes-provider.js");
      return createKubernetesProvider({
        namespace: a.kubernetes_namespace,
        deployment: a.kubernetes_deployment,
        labelSelector: a.kubernetes_selector,
        logger,
      });
    }
    case "external":
      return createExternalProvider();
  }
}

/** The registry host of an image reference (docker.io when it names none). */
function registryOf(image: string): string {
  const first = image.split("/")[0] ?? "";
  return image.includes("/") &&
    (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "https://index.docker.io/v1/";
}
