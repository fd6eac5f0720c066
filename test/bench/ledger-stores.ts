// Durable Assign throughput with the ledger in PostgreSQL against the SQLite
// file, in the same run: the end-to-end load (Balancer.Assign with
// await_result, no-op tasks, the same workers and load processes) on a mesh
// whose ledger is the SQLite file at synchronous full (the default), then on
// one whose ledger is a local PostgreSQL started the way the tests start it
// (test/support/postgres-server.ts: fsync and synchronous_commit on, its
// defaults). Both answer a transition only once it is durable. The server
// shares this machine's cores with the mesh, as an embedded file does.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Mesh } from "../support/mesh.js";
import { postgresBinDir, startPostgresServer } from "../support/postgres-server.js";
import type { LoadSummary } from "./driver-pool.js";
import { ratioRow, row, scalemeshLoad, summaryRow, type EndToEndOptions } from "./end-to-end.js";

type Say = (text: string) => void;

/** Rows per group commit on the coordinator, from its scalemesh_ledger_commit_batch_rows histogram. */
async function meanCommitRows(mesh: Mesh): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${mesh.coordinator.httpPort}/metrics`)).text();
  const value = (name: string): number =>
    Number(
      text
        .split("\n")
        .find((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
        ?.split(" ")
        .at(-1) ?? Number.NaN,
    );
  return (
    value("scalemesh_ledger_commit_batch_rows_sum") /
    value("scalemesh_ledger_commit_batch_rows_count")
  );
}

function postgresVersion(): string {
  const binDir = postgresBinDir();
  if (binDir === undefined) return "not installed";
  return execFileSync(join(binDir, "postgres"), ["--version"], { encoding: "utf8" }).trim();
}

export async function benchLedgerStores(options: EndToEndOptions, say: Say): Promise<void> {
  say("the ledger's store: durable Assign throughput, PostgreSQL vs SQLite (same run)");
  say(
    `  the end-to-end load: ${options.workers} worker agents of ${options.concurrency} slots (no-op handler), ` +
      `${options.drivers} load processes, ${options.inFlight} in flight, ${options.tasks} tasks measured after ${options.warmUpTasks} warm-up`,
  );
  say(`  SQLite: the ledger file at ledger.synchronous full (the default)`);
  say(`  PostgreSQL: ${postgresVersion()} on 127.0.0.1 (fsync, synchronous_commit on)`);
  const runs: { ledger: string; summary: LoadSummary; rowsPerCommit: number }[] = [];
  const sqlite = await scalemeshLoad(options, {
    env: { SCALEMESH_LEDGER_SYNCHRONOUS: "full" },
    what: "ledger SQLite, synchronous full",
    inspect: meanCommitRows,
  });
  runs.push({ ledger: "SQLite", summary: sqlite.summary, rowsPerCommit: sqlite.inspected ?? 0 });
  const server = await startPostgresServer();
  try {
    const url = await server.createDatabase("bench_ledger");
    const postgres = await scalemeshLoad(options, {
      env: { SCALEMESH_LEDGER_URL: url },
      what: "ledger PostgreSQL",
      inspect: meanCommitRows,
    });
    runs.push({
      ledger: "PostgreSQL",
      summary: postgres.summary,
      rowsPerCommit: postgres.inspected ?? 0,
    });
  } finally {
    await server.close();
  }
  say(
    `${row(["ledger", "tasks", "in flight", "throughput/s", "p50 ms", "p99 ms", "errors"])}   rows/commit`,
  );
  for (const run of runs)
    say(
      `${summaryRow(run.ledger, options.inFlight, run.summary)}   ${run.rowsPerCommit.toFixed(1)}`,
    );
  const [onSqlite, onPostgres] = runs.map((r) => r.summary);
  if (onSqlite && onPostgres) say(ratioRow("PostgreSQL/SQLite", onPostgres, onSqlite));
  for (const run of runs)
    if (run.summary.errors > 0)
      say(
        `  ${run.ledger}: ${run.summary.errors} task(s) failed; first: ${run.summary.firstError}`,
      );
  say(
    "  rows/commit: task rows in one group commit (scalemesh_ledger_commit_batch_rows), the coordinator's mean",
  );
}
