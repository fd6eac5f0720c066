// Fault: the ledger file becomes unwritable under load (real processes: one
// coordinator, one balancer, four worker agents running the counting sleep
// handler). File permissions do not stop root, so the coordinator's own file
// size limit is lowered with `prlimit --pid P --fsize=N:` (util-linux) to the
// size the ledger's database (or WAL, if smaller) file has now: writes past it
// fail with EFBIG (Node ignores SIGXFSZ) and SQLite reports an error. Then
// Assign answers UNAVAILABLE saying the ledger cannot be written (naming its
// path), the coordinator keeps running (/healthz 200) and the tasks accepted
// before stay; once the limit is raised again Assign works within seconds,
// and every accepted task ends SUCCEEDED exactly once. Skipped, saying so,
// where prlimit is not installed. Tasks: SCALEMESH_FAULT_TASKS (>= 2,000).
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { TaskState } from "../../libs/contracts/index.js";
import { Code, toConnectError } from "../../libs/rpc/index.js";
import { stopAll } from "../support/service-process.js";
import { loadUntilAThird } from "../support/fault-run.js";
import {
  auditAcceptedTasks,
  faultTaskCount,
  listAllTasks,
  logTimeMs,
  readExecutions,
  settledLedgerFile,
  sleepPayload,
  startFaultCluster,
  summarize,
  waitForAllFinal,
  waitUntil,
  type FaultCluster,
} from "../support/fault-cluster.js";

const prlimitMissing = spawnSync("prlimit", ["--version"]).status !== 0;
if (prlimitMissing)
  console.warn(
    "[fault e] skipped: prlimit (util-linux) is not installed, so the coordinator's file size limit cannot be lowered",
  );

function prlimitFsize(pid: number, value: string): void {
  const run = spawnSync("prlimit", ["--pid", String(pid), `--fsize=${value}:`], {
    encoding: "utf8",
  });
  if (run.status !== 0)
    throw new Error(`prlimit --pid ${pid} --fsize=${value}: failed (${run.status}): ${run.stderr}`);
}

let cluster: FaultCluster | undefined;
let stopLoad: AbortController | undefined;
afterEach(async () => {
  stopLoad?.abort();
  await cluster?.stop();
  cluster = undefined;
  await stopAll();
});

describe("fault: the ledger becomes unwritable", () => {
  it.skipIf(prlimitMissing)(
    "refuses Assign with UNAVAILABLE naming the ledger, stays up, keeps what it accepted, and accepts again once it can write",
    async () => {
      cluster = await startFaultCluster({ workers: 4, slots: 16 });
      const c = cluster;
      const count = faultTaskCount();
      const pid = c.coordinator.child.pid as number;
      stopLoad = new AbortController();
      const acceptedBefore: string[] = [];
      let isLimited = false;
      const { loading } = await loadUntilAThird({
        clients: c.balancerClients,
        count,
        idPrefix: "ledger",
        signal: stopLoad.signal,
        onAccepted: (taskId) => {
          if (!isLimited) acceptedBefore.push(taskId);
        },
      });

      // Cap the coordinator's file size at what the ledger's files hold now.
      const wal = `${c.ledgerPath}-wal`;
      const walBytes = existsSync(wal) ? statSync(wal).size : 0;
      const dbBytes = statSync(c.ledgerPath).size;
      // The smaller one: a WAL restarts from its beginning after a checkpoint, so
      // only a cap below both files' sizes makes the next commits fail soon.
      const limit = walBytes > 0 ? Math.min(walBytes, dbBytes) : dbBytes;
      isLimited = true;
      const limitedAtMs = Date.now();
      prlimitFsize(pid, String(limit));

      // A fresh task is refused, with a message that says why and where.
      const probe = c.balancerClients[0];
      if (!probe) throw new Error("no balancer client");
      let refusal: ReturnType<typeof toConnectError> | undefined;
      let acceptedWhileLimited = 0;
      await waitUntil("Assign refused while the ledger cannot be written", 10_000, async () => {
        try {
          await probe.assign(
            { task: { taskId: `probe-limited-${acceptedWhileLimited}`, payload: sleepPayload(0) } },
            { timeoutMs: 5_000 },
          );
          acceptedWhileLimited += 1;
          return false;
        } catch (error) {
          refusal = toConnectError(error);
          return true;
        }
      });
      const refusedAtMs = Date.now();
      const failedLine = await c.coordinator.waitForLog(
        (l) => l.msg === "task ledger write failed; refusing new tasks until it recovers",
        5_000,
      );

      // Still up, still answering, and what it accepted before is still there.
      await sleep(1_000);
      const health = await fetch(`http://127.0.0.1:${c.httpPort}/healthz`);
      const aliveWhileLimited =
        c.coordinator.child.exitCode === null && c.coordinator.child.signalCode === null;
      const missingBefore: string[] = [];
      for (const taskId of acceptedBefore) {
        const found = await c.admin.getTask({ taskId }).catch(() => undefined);
        if (found?.task?.spec?.taskId !== taskId) missingBefore.push(taskId);
      }
      const stillRefused = await probe
        .assign(
          { task: { taskId: "probe-still-limited", payload: sleepPayload(0) } },
          { timeoutMs: 5_000 },
        )
        .then(
          () => undefined,
          (error: unknown) => toConnectError(error),
        );

      // Writable again: Assign works within a few seconds.
      const raisedAtMs = Date.now();
      prlimitFsize(pid, "unlimited");
      let probes = 0;
      await waitUntil("Assign accepted again after the limit was raised", 10_000, async () => {
        probes += 1;
        const response = await probe.assign(
          { task: { taskId: `probe-raised-${probes}`, payload: sleepPayload(probes) } },
          { timeoutMs: 5_000 },
        );
        return response.taskId === `probe-raised-${probes}`;
      });
      const acceptedAgainAtMs = Date.now();
      const writableLine = await c.coordinator.waitForLog(
        (l) => l.msg === "task ledger writable again",
        5_000,
      );

      const load = await loading;
      const probeIds = Array.from(
        { length: acceptedWhileLimited },
        (_, i) => `probe-limited-${i}`,
      ).concat(`probe-raised-${probes}`);
      const accepted = [...load.accepted.keys(), ...probeIds];
      await waitForAllFinal(c.admin, accepted.length, 60_000);
      const { tasks, listedTwice } = await listAllTasks(c.admin);
      const ledgerFile = await settledLedgerFile(c.ledgerPath, tasks);
      const integrity = (() => {
        const db = new Database(c.ledgerPath, { readonly: true });
        try {
          return db.pragma("integrity_check", { simple: true });
        } finally {
          db.close();
        }
      })();
      const problems = auditAcceptedTasks({
        accepted,
        tasks,
        ledgerFile,
        executions: readExecutions(c.execDir),
        listedTwice,
      });
      const refusedDuringLoad = load.failedCalls.filter(
        (f) => f.endedAtMs >= limitedAtMs && f.startedAtMs <= acceptedAgainAtMs,
      );
      console.log(
        `[fault e] ${count} tasks in ${load.elapsedMs} ms; file size limit ${limit} bytes (wal ${walBytes}, db ${dbBytes}) after ${acceptedBefore.length} accepted; ` +
          `${acceptedWhileLimited} Assign(s) still accepted before the first refusal ${refusedAtMs - limitedAtMs} ms later: ${refusal?.code === undefined ? "-" : Code[refusal.code]} "${refusal?.rawMessage}"; ` +
          `coordinator logged "${String(failedLine.msg)}" (${String(failedLine.err)}) at +${logTimeMs(failedLine) - limitedAtMs} ms; ` +
          `limit raised at +${raisedAtMs - limitedAtMs} ms, Assign accepted again ${acceptedAgainAtMs - raisedAtMs} ms later (${probes} probe(s)), "writable again" logged at +${logTimeMs(writableLine) - raisedAtMs} ms after the raise; ` +
          `${refusedDuringLoad.length} load calls refused meanwhile and retried; integrity_check ${String(integrity)}`,
      );

      expect(refusal?.code).toBe(Code.Unavailable);
      expect(refusal?.rawMessage).toMatch(/ledger cannot be written/);
      expect(refusal?.rawMessage).toContain(c.ledgerPath);
      expect(stillRefused?.code).toBe(Code.Unavailable);
      expect(aliveWhileLimited).toBe(true);
      expect(health.status).toBe(200);
      expect(missingBefore).toEqual([]);
      expect([...load.refused].map(([id, e]) => `${id}: ${e.rawMessage}`)).toEqual([]);
      expect(load.accepted.size).toBe(count);
      expect(summarize(problems)).toEqual([]);
      expect(integrity).toBe("ok");
      expect([...tasks.values()].filter((t) => t.state !== TaskState.SUCCEEDED).length).toBe(0);
    },
    120_000,
  );
});
