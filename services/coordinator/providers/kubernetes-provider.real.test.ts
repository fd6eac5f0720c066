// The kubernetes provider against a real cluster: runs only when KUBECONFIG
// is set (CI has no cluster). It creates a Deployment of the pause image at
// 0 replicas in SCALEMESH_K8S_TEST_NAMESPACE (default "default"), scales it
// 0 → 2 → 1 through the provider checking that the pod passed to stop() is
// the one removed, replaces the other, and deletes the Deployment afterwards.
// Besides the provider's own rules (get and patch on deployments/scale, list,
// patch and delete on pods) the account needs create and delete on
// deployments there, and the nodes must be able to pull registry.k8s.io/pause:3.9.
import { randomBytes } from "node:crypto";
import { AppsV1Api, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubernetesProvider } from "./kubernetes-provider.js";
import type { WorkerProvider } from "./worker-provider.js";

const namespace = process.env.SCALEMESH_K8S_TEST_NAMESPACE ?? "default";
const run = randomBytes(4).toString("hex");
const deployment = `scalemesh-test-worker-${run}`;
// The run label keeps pods of other runs (or a failed earlier one) out of this run's selector.
const labels = { app: "scalemesh-test-worker", "scalemesh-test-run": run };
const labelSelector = `app=scalemesh-test-worker,scalemesh-test-run=${run}`;
/** Long enough for a first pull of the pause image and a pod's termination. */
const POD_TIMEOUT_MS = 120_000;

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = POD_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe.skipIf(!process.env.KUBECONFIG)(
  "the kubernetes provider against the cluster in KUBECONFIG",
  () => {
    let apps: AppsV1Api;
    let provider: WorkerProvider;

    beforeAll(async () => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      apps = kubeConfig.makeApiClient(AppsV1Api);
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: {
            name: deployment,
            labels: { ...labels, "app.kubernetes.io/managed-by": "scalemesh-tests" },
          },
          spec: {
            replicas: 0,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                terminationGracePeriodSeconds: 1,
                containers: [
                  {
                    name: "worker",
                    image: "registry.k8s.io/pause:3.9",
                    resources: {
                      requests: { cpu: "10m", memory: "8Mi" },
                      limits: { memory: "16Mi" },
                    },
                  },
                ],
              },
            },
          },
        },
      });
      provider = createKubernetesProvider({
        kubeConfig,
        namespace,
        deployment,
        labelSelector,
        logger: pino({ level: "warn" }),
        startWaitMs: 30_000,
      });
    });

    afterAll(async () => {
      await provider?.close();
      if (!apps) return;
      try {
        await apps.deleteNamespacedDeployment({
          name: deployment,
          namespace,
          propagationPolicy: "Foreground",
        });
      } catch (error) {
        if (!(typeof error === "object" && error !== null && "code" in error && error.code === 404))
          throw error;
      }
    });

    const workerIds = async () =>
      (await provider.list())
        .filter((w) => w.state !== "stopping")
        .map((w) => w.workerId)
        .sort();
    const readScale = async () =>
      (await apps.readNamespacedDeploymentScale({ name: deployment, namespace })).spec?.replicas ??
      0;

    it(
      "scales 0 → 2 → 1 removing the pod given to stop(), then replaces the other",
      { timeout: 4 * POD_TIMEOUT_MS },
      async () => {
        const started = await provider.start(2);
        expect(started).toHaveLength(2);
        expect(await readScale()).toBe(2);
        await until("both pods ready", async () =>
          (await Promise.all(started.map((id) => provider.health(id)))).every(
            (h) => h === "healthy",
          ),
        );
        expect((await provider.list()).map((w) => w.state)).toEqual(["running", "running"]);

        // Unmarked, the two pods (of one age, within the controller's
        // resolution) would be a toss-up; the mark must decide it, every run.
        const [removed, kept] = started as [string, string];
        await provider.stop([removed]);
        expect(await readScale()).toBe(1);
        await until(`${removed} gone`, async () => (await provider.health(removed)) === "gone");
        expect(await workerIds()).toEqual([kept]);
        expect(await provider.health(kept)).toBe("healthy");

        await provider.replace(kept);
        await until(`${kept} gone`, async () => (await provider.health(kept)) === "gone");
        let replacement = "";
        await until("a ready replacement", async () => {
          const ids = await workerIds();
          replacement = ids[0] ?? "";
          return (
            ids.length === 1 &&
            replacement !== kept &&
            (await provider.health(replacement)) === "healthy"
          );
        });
        expect(await readScale()).toBe(1);
      },
    );
  },
);
