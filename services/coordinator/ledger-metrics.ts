// The task ledger's commits as Prometheus sees them: how long a group
// commit takes to be durable, how many rows it carries, and how many fail.
// The store reports to `ledgerCommitObserver` (libs/ledger's CommitObserver).
import { Counter, Histogram } from "prom-client";
import type { CommitObserver } from "../../libs/ledger/index.js";
import { registry } from "../../libs/telemetry/index.js";

const commitSeconds = new Histogram({
  name: "scalemesh_ledger_commit_seconds",
  help: "From the start of a group commit's write to durable (its fdatasync included).",
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

const batchRows = new Histogram({
  name: "scalemesh_ledger_commit_batch_rows",
  help: "Task rows one group commit wrote (a burst of transitions shares one commit).",
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  registers: [registry],
});

const commitFailures = new Counter({
  name: "scalemesh_ledger_commit_failures_total",
  help: "Group commits whose write or sync failed (the rows stay queued and are written by a later commit).",
  registers: [registry],
});

export const ledgerCommitObserver: CommitObserver = {
  committed({ rows, seconds }) {
    commitSeconds.observe(seconds);
    batchRows.observe(rows);
  },
  failed() {
    commitFailures.inc();
  },
};
