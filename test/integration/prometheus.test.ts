// deploy/ against a real Prometheus (Debian's prometheus and promtool):
// promtool checks the alert rules and runs their unit tests; then a
// Prometheus scrapes every service of a running mesh that ran a few tasks,
// and the metrics the README names show what the mesh did. Every alert rule
// evaluates without error on that data, and every query of the Grafana
// dashboard is one Prometheus accepts.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { projectRoot } from "../../libs/telemetry/version.js";
import { startMesh, type Mesh } from "../support/mesh.js";
import {
  PROMTOOL_BIN,
  startPrometheus,
  type PrometheusServer,
  type VectorSample,
} from "../support/prometheus-server.js";
import { stopAll } from "../support/service-process.js";
import { until } from "../support/until.js";

const run = promisify(execFile);
const DEPLOY = join(projectRoot(), "deploy");
const ALERTS = join(DEPLOY, "prometheus", "alerts.yml");
const ALERT_NAMES = [
  "ScalemeshNoWorkers",
  "ScalemeshQueueGrowing",
  "ScalemeshDeadLettersRising",
  "ScalemeshWorkerFlapping",
  "ScalemeshAutoscalerAtMaxWhileTasksWait",
  "ScalemeshLedgerCommitsFailing",
  "ScalemeshQueueWaitP99OverSLO",
];
const TASKS = 6;
const TASK_TYPE = "prometheus-test";

let mesh: Mesh | undefined;
let prometheus: PrometheusServer | undefined;
afterEach(async () => {
  await prometheus?.stop();
  prometheus = undefined;
  await mesh?.stop();
  mesh = undefined;
  await stopAll();
});

async function promtool(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(PROMTOOL_BIN, args, { cwd: join(DEPLOY, "prometheus") });
  return `${stdout}${stderr}`;
}

/** Every `expr` of the dashboard's panels, with Grafana's rate interval as Prometheus would get it. */
function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(
    readFileSync(join(DEPLOY, "grafana", "scalemesh-dashboard.json"), "utf8"),
  ) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels
    .flatMap((panel) => panel.targets ?? [])
    .map((target) => target.expr.replaceAll("$__rate_interval", "1m"));
}

/** The value of a query that answers one sample, once it does. */
async function valueOf(server: PrometheusServer, expression: string): Promise<number> {
  const [sample] = await until(
    expression,
    async () => {
      const samples = await server.query(expression);
      return samples.length === 1 ? samples : undefined;
    },
    30_000,
  );
  return (sample as VectorSample).value;
}

describe("Prometheus", () => {
  it("promtool passes the config and the alert rules, and the alerts' unit tests", async () => {
    expect(await promtool("check", "config", "prometheus.yml")).toMatch(
      /SUCCESS: 1 rule files found[\s\S]*SUCCESS: 7 rules found/,
    );
    expect(await promtool("check", "rules", "alerts.yml")).toContain("SUCCESS: 7 rules found");
    const tested = await promtool("test", "rules", "alerts.test.yml");
    expect(tested).toContain("SUCCESS");
    // One test group or more per alert.
    const tests = readFileSync(join(DEPLOY, "prometheus", "alerts.test.yml"), "utf8");
    for (const alert of ALERT_NAMES) expect(tests).toContain(`alertname: ${alert}\n`);
  });

  it("scrapes every service of a running mesh and sees what it did in the metrics", async () => {
    mesh = await startMesh({
      workers: 1,
      withOptimizer: true,
      // A load sample a second for the optimizer, instead of one every 15 s.
      env: { SCALEMESH_SCALING_SYNC_INTERVAL_SEC: "1" },
    });
    const m = mesh;
    for (let i = 0; i < TASKS; i += 1) {
      const assigned = await m.balancerClient.assign({
        task: { taskId: `prom-${i}`, taskType: TASK_TYPE, payload: new TextEncoder().encode("x") },
        awaitResult: true,
      });
      expect(assigned.result?.state).toBe(TaskState.SUCCEEDED);
    }
    const services = [
      { service: "coordinator", port: m.coordinator.httpPort },
      { service: "balancer", port: m.balancer.httpPort },
      { service: "optimizer", port: m.optimizer?.httpPort ?? 0 },
      { service: "worker", port: m.workers[0]?.httpPort ?? 0 },
    ];
    prometheus = await startPrometheus({
      targets: services.map(({ service, port }) => ({
        address: `127.0.0.1:${port}`,
        labels: { service },
      })),
      ruleFiles: [ALERTS],
    });
    const p = prometheus;

    // Every target up, as /api/v1/targets says.
    const targets = await until(
      "every target up",
      async () => {
        const answer = await p.api("targets", { state: "active" });
        const active = (
          answer.data as { activeTargets: { health: string; labels: Record<string, string> }[] }
        ).activeTargets;
        return active.length === services.length && active.every((t) => t.health === "up")
          ? active
          : undefined;
      },
      30_000,
    );
    expect(targets.map((t) => t.labels.service).sort()).toEqual([
      "balancer",
      "coordinator",
      "optimizer",
      "worker",
    ]);

    const type = `type="${TASK_TYPE}"`;
    const cases: [string, (value: number) => void][] = [
      [`scalemesh_task_queue_wait_seconds_count{${type}}`, (v) => expect(v).toBe(TASKS)],
      [
        `scalemesh_task_run_seconds_count{${type},outcome="succeeded"}`,
        (v) => expect(v).toBe(TASKS),
      ],
      [
        `scalemesh_task_submit_to_result_seconds_count{${type},outcome="succeeded"}`,
        (v) => expect(v).toBe(TASKS),
      ],
      [
        `scalemesh_task_submit_to_result_seconds_count{${type},outcome="dead_lettered"}`,
        (v) => expect(v).toBe(0),
      ],
      ['scalemesh_coordinator_workers{state="alive"}', (v) => expect(v).toBe(1)],
      ['scalemesh_coordinator_tasks{state="SUCCEEDED"}', (v) => expect(v).toBe(TASKS)],
      ['scalemesh_coordinator_worker_slots{worker_id="worker-1"}', (v) => expect(v).toBe(4)],
      [
        'scalemesh_coordinator_worker_in_flight_tasks{worker_id="worker-1"}',
        (v) => expect(v).toBe(0),
      ],
      [
        'scalemesh_coordinator_worker_sessions_total{worker_id="worker-1"}',
        (v) => expect(v).toBe(1),
      ],
      [
        'sum(scalemesh_balancer_placements_total{outcome=~"placed|placed_by_coordinator"})',
        (v) => expect(v).toBe(TASKS),
      ],
      ["sum(scalemesh_balancer_placement_conflicts_total)", (v) => expect(v).toBe(0)],
      ["scalemesh_ledger_commit_seconds_count", (v) => expect(v).toBeGreaterThan(0)],
      ["scalemesh_ledger_commit_batch_rows_sum", (v) => expect(v).toBeGreaterThanOrEqual(TASKS)],
      ["scalemesh_ledger_commit_failures_total", (v) => expect(v).toBe(0)],
      ["scalemesh_coordinator_heartbeat_lag_seconds_count", (v) => expect(v).toBeGreaterThan(0)],
      ["scalemesh_autoscaler_max_workers", (v) => expect(v).toBe(10)],
      ['scalemesh_worker_tasks_total{outcome="succeeded"}', (v) => expect(v).toBe(TASKS)],
      ["scalemesh_worker_slots", (v) => expect(v).toBe(4)],
      [
        'scalemesh_optimizer_samples_total{outcome="accepted"}',
        (v) => expect(v).toBeGreaterThan(0),
      ],
    ];
    for (const [expression, check] of cases) {
      const value = await valueOf(p, expression);
      check(value);
    }

    // The rules were loaded and each evaluated on this data without an error.
    const rules = await until(
      "every alert rule evaluated",
      async () => {
        const answer = await p.api("rules", { type: "alert" });
        const groups = (
          answer.data as {
            groups: { rules: { name: string; health: string; lastError?: string }[] }[];
          }
        ).groups;
        const all = groups.flatMap((g) => g.rules);
        return all.length === ALERT_NAMES.length && all.every((r) => r.health !== "unknown")
          ? all
          : undefined;
      },
      30_000,
    );
    expect(rules.map((r) => r.name).sort()).toEqual([...ALERT_NAMES].sort());
    for (const rule of rules) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe("ok");

    // Every dashboard query is one Prometheus accepts (query() throws with its words when not).
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(30);
    for (const expression of expressions) await p.query(expression);
  }, 120_000);
});
