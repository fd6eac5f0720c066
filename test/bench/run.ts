// `npm run bench`: each benchmark against its baseline in the same run.
//   assign    the Assign path vs a bare echo server on the same stack (h2load)
//   e2e       end-to-end no-op tasks, scalemesh vs BullMQ on a local Redis
//   target    the original target: 5,000 durable tasks/s for 60 s, mean < 100 ms
//   ledger    durable Assign throughput with the ledger on PostgreSQL vs SQLite
//   scale     1,000 / 5,000 / 10,000 simulated workers on one coordinator vs a bare server
//   fleet     CPU per Assign on N and 2N real worker agents at the same load
//   recovery  SIGKILL of a worker until its tasks run elsewhere, both systems
//   failover  SIGKILL of the leader coordinator: a standby takes over (PostgreSQL)
//             vs one coordinator restarted at once (SQLite)
//   hashing   the hashing strategies' spread, disruption and bounded loads (simulator)
//   latency   round robin vs least connections vs P2C peak-EWMA with workers
//             of different speeds, in the simulator and on real processes
//   scaling   the autoscaler's reaction to a load step (local provider) vs a
//             worker agent's own start time; a compressed 5× step on real processes
//             vs the simulator given the same worker start
//   forecast  the Kubernetes HPA and KEDA vs scalemesh's reactive and predictive
//             policies over synthetic traces (diurnal, step, spike, noisy,
//             ramp, weekly) in simulated time (simulator)
// SCALEMESH_BENCH_ONLY=e2e (or a comma list) runs only those parts. Results
// go to stdout; progress lines go to stderr.
import { benchAssign } from "./assign-vs-echo.js";
import { benchEndToEnd, benchTarget, endToEndOptionsFromEnv } from "./end-to-end.js";
import { benchLedgerStores } from "./ledger-stores.js";
import { benchRecovery } from "./recovery.js";
import { benchFailover } from "./failover.js";
import { benchScale } from "./scale.js";
import { benchFleetCost, fleetCostOptionsFromEnv } from "./fleet-cost.js";
import { formatHashingReport } from "./hashing-sim.js";
import { formatLatencyReport, runLatencySimulation } from "./balancing-latency-sim.js";
import { benchStrategyLatency } from "./strategy-latency.js";
import { benchScaleReaction } from "./scale-reaction.js";
import { benchTraceOnProcesses } from "./trace-on-processes.js";
import { formatComparison, runComparison } from "./autoscaler-comparison.js";

const PARTS = [
  "assign",
  "e2e",
  "target",
  "ledger",
  "scale",
  "fleet",
  "recovery",
  "failover",
  "hashing",
  "latency",
  "scaling",
  "forecast",
] as const;
type Part = (typeof PARTS)[number];

const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

function isPart(name: string): name is Part {
  return (PARTS as readonly string[]).includes(name);
}

function selectedParts(text: string | undefined): Set<Part> | string {
  if (text === undefined || text.trim() === "") return new Set(PARTS);
  const names = text
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const unknown = names.filter((name) => !isPart(name));
  if (unknown.length > 0)
    return `SCALEMESH_BENCH_ONLY: unknown part(s) ${unknown.join(", ")}; use ${PARTS.join(", ")} (comma-separated)`;
  return new Set(names.filter(isPart));
}

/**
 * The bench's own settings, read once and then removed from this process's
 * environment: every mesh process inherits it, and the services treat
 * unknown SCALEMESH_* variables that look like options as errors.
 */
function takeBenchEnv(): Record<string, string | undefined> {
  const taken: Record<string, string | undefined> = {};
  for (const name of Object.keys(process.env).filter((n) => n.startsWith("SCALEMESH_BENCH_"))) {
    taken[name] = process.env[name];
    delete process.env[name];
  }
  return taken;
}

async function main(): Promise<number> {
  const benchEnv = takeBenchEnv();
  const parts = selectedParts(benchEnv.SCALEMESH_BENCH_ONLY);
  if (typeof parts === "string") {
    process.stderr.write(`${parts}\n`);
    return 2;
  }
  let exitCode = 0;
  if (parts.has("assign")) {
    process.stderr.write("== assign vs echo ==\n");
    exitCode = await benchAssign(say, benchEnv);
  }
  if (parts.has("e2e")) {
    process.stderr.write("== end to end: scalemesh vs BullMQ ==\n");
    if (parts.has("assign")) say("");
    await benchEndToEnd(endToEndOptionsFromEnv(benchEnv), say);
  }
  if (parts.has("target")) {
    process.stderr.write("== the original target: 5,000 tasks/s for 60 s ==\n");
    await benchTarget(benchEnv, say);
  }
  if (parts.has("ledger")) {
    process.stderr.write("== the ledger on PostgreSQL vs SQLite ==\n");
    say("");
    await benchLedgerStores(endToEndOptionsFromEnv(benchEnv), say);
  }
  if (parts.has("scale")) {
    process.stderr.write("== many workers on one coordinator ==\n");
    say("");
    await benchScale(say, benchEnv);
  }
  if (parts.has("fleet")) {
    process.stderr.write("== CPU per Assign as the fleet doubles ==\n");
    say("");
    await benchFleetCost(say, fleetCostOptionsFromEnv(benchEnv));
  }
  if (parts.has("recovery")) {
    process.stderr.write("== recovery after SIGKILL: scalemesh vs BullMQ ==\n");
    if (parts.has("assign") || parts.has("e2e")) say("");
    await benchRecovery(say);
  }
  if (parts.has("failover")) {
    process.stderr.write("== coordinator failover: standby takeover vs restart ==\n");
    say("");
    await benchFailover(say);
  }
  if (parts.has("hashing")) {
    process.stderr.write("== hashing strategies (simulator) ==\n");
    say("");
    say(formatHashingReport());
  }
  if (parts.has("latency")) {
    process.stderr.write("== strategies with heterogeneous workers ==\n");
    say("");
    say(formatLatencyReport(runLatencySimulation()));
    say("");
    await benchStrategyLatency(say);
  }
  if (parts.has("scaling")) {
    process.stderr.write("== autoscaler reaction to a load step ==\n");
    say("");
    await benchScaleReaction(say);
    say("");
    await benchTraceOnProcesses(say);
  }
  if (parts.has("forecast")) {
    process.stderr.write("== autoscalers compared: HPA, KEDA, scalemesh (simulator) ==\n");
    say("");
    say(formatComparison(runComparison({ progress: (line) => process.stderr.write(`${line}\n`) })));
  }
  return exitCode;
}

process.exitCode = await main();
