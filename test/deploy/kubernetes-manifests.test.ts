// The Kubernetes manifests, read as kustomize would assemble them (no
// cluster and no kubectl here): both variants resolve, every Service and
// PodDisruptionBudget selects the pods it means, every SCALEMESH_* variable
// is a real option, and each variant holds what makes it safe: the replicas
// on PostgreSQL with a budget and readiness that only the leader passes, the
// single coordinator on SQLite kept on a PersistentVolumeClaim.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_OPTIONS } from "../../libs/config/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";

type Manifest = {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
};

type Container = {
  name: string;
  env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
};

const root = join(projectRoot(), "deploy", "kubernetes");

/** Every object a kustomization (a directory) assembles, its bases' included. */
function assemble(dir: string): Manifest[] {
  const kustomization = join(dir, "kustomization.yaml");
  expect(existsSync(kustomization), kustomization).toBe(true);
  const { resources } = parseAllDocuments(readFileSync(kustomization, "utf8"))[0]?.toJS() as {
    resources: string[];
  };
  return resources.flatMap((resource) => {
    const path = join(dir, resource);
    expect(existsSync(path), `${kustomization} names ${resource}`).toBe(true);
    if (statSync(path).isDirectory()) return assemble(path);
    return parseAllDocuments(readFileSync(path, "utf8")).map((doc) => doc.toJS() as Manifest);
  });
}

const podLabels = (workload: Manifest): Record<string, string> =>
  ((workload.spec?.template as { metadata: { labels: Record<string, string> } }).metadata.labels ??
    {}) as Record<string, string>;

const containersOf = (workload: Manifest): Container[] =>
  (workload.spec?.template as { spec: { containers: Container[] } }).spec.containers;

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const knownEnv = new Set(CONFIG_OPTIONS.map((option) => option.envName));

function checkWiring(objects: Manifest[]): void {
  const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
  for (const workload of workloads) {
    const selector = (workload.spec?.selector as { matchLabels: Record<string, string> })
      .matchLabels;
    expect(matches(selector, podLabels(workload)), workload.metadata.name).toBe(true);
    for (const container of containersOf(workload))
      for (const variable of container.env ?? [])
        if (variable.name.startsWith("SCALEMESH_"))
          expect(knownEnv.has(variable.name), `${workload.metadata.name}: ${variable.name}`).toBe(
            true,
          );
  }
  for (const selecting of objects.filter((o) =>
    ["Service", "PodDisruptionBudget"].includes(o.kind),
  )) {
    const spec = selecting.spec as {
      selector: Record<string, string> | { matchLabels: Record<string, string> };
    };
    const selector =
      "matchLabels" in spec.selector
        ? (spec.selector.matchLabels as Record<string, string>)
        : (spec.selector as Record<string, string>);
    expect(
      workloads.some((workload) => matches(selector, podLabels(workload))),
      `${selecting.kind} ${selecting.metadata.name} selects pods`,
    ).toBe(true);
  }
}

const coordinatorOf = (objects: Manifest[]): Manifest => {
  const found = objects.filter(
    (o) => o.metadata.name === "scalemesh-coordinator" && o.kind !== "Service",
  );
  const workloads = found.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
  expect(workloads).toHaveLength(1);
  return workloads[0] as Manifest;
};

const envOf = (container: Container, name: string) =>
  container.env?.find((variable) => variable.name === name);

describe("the Kubernetes manifests", () => {
  it("run coordinator replicas on PostgreSQL, ready only while they lead, with a disruption budget", () => {
    const objects = assemble(root);
    checkWiring(objects);
    const coordinator = coordinatorOf(objects);
    expect(coordinator.kind).toBe("Deployment");
    const replicas = coordinator.spec?.replicas as number;
    expect(replicas).toBeGreaterThanOrEqual(2);
    const [container] = containersOf(coordinator);
    expect(envOf(container as Container, "SCALEMESH_LEDGER_URL")?.valueFrom).toEqual({
      secretKeyRef: { name: "scalemesh-postgres", key: "url" },
    });
    expect(envOf(container as Container, "SCALEMESH_LEDGER_PATH")).toBeUndefined();
    expect(container?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
    // A standby is NOT_SERVING on gRPC health: a gRPC liveness probe would restart it.
    expect(container?.livenessProbe?.grpc).toBeUndefined();
    expect(container?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
    const budget = objects.find((o) => o.kind === "PodDisruptionBudget");
    const minAvailable = budget?.spec?.minAvailable as number;
    expect(minAvailable).toBeGreaterThanOrEqual(1);
    expect(minAvailable).toBeLessThan(replicas);
  });

  it("run one coordinator on SQLite with its ledger on a PersistentVolumeClaim", () => {
    const objects = assemble(join(root, "single"));
    checkWiring(objects);
    const coordinator = coordinatorOf(objects);
    expect(coordinator.kind).toBe("StatefulSet");
    expect(coordinator.spec?.replicas).toBe(1);
    const [container] = containersOf(coordinator);
    const ledgerPath = envOf(container as Container, "SCALEMESH_LEDGER_PATH")?.value ?? "";
    const claims = coordinator.spec?.volumeClaimTemplates as { metadata: { name: string } }[];
    const mount = container?.volumeMounts?.find((m) =>
      claims.some((claim) => claim.metadata.name === m.name),
    );
    expect(mount, "the ledger's directory is a claimed volume").toBeDefined();
    expect(dirname(ledgerPath)).toBe(mount?.mountPath);
    expect(envOf(container as Container, "SCALEMESH_LEDGER_URL")).toBeUndefined();
  });

  it("share the balancers and worker agents, which follow the coordinator's ready pods", () => {
    for (const variant of [root, join(root, "single")]) {
      const objects = assemble(variant);
      for (const name of ["scalemesh-balancer", "scalemesh-worker"]) {
        const workload = objects.find((o) => o.metadata.name === name && o.kind === "Deployment");
        expect(workload, name).toBeDefined();
        const env = containersOf(workload as Manifest)[0]?.env ?? [];
        const coordinator = env.find((v) =>
          ["SCALEMESH_BALANCER_COORDINATOR", "SCALEMESH_WORKER_COORDINATOR"].includes(v.name),
        );
        expect(coordinator?.value).toMatch(/^k8s:\/\/[^/]+\/scalemesh-coordinator:grpc$/);
      }
    }
  });
});
