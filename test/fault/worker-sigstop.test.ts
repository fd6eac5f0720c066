// Fault: a worker agent is SIGSTOPped under load with tasks on it: its socket
// stays open but it sends no heartbeat (real processes: one coordinator, one
// balancer, four worker agents running the counting sleep handler). The
// coordinator declares it dead after the heartbeat timeout (1 s here) and
// places its tasks again elsewhere. Then it is SIGCONTed: its handlers finish
// the old attempts and their results arrive stale. The coordinator counts
// them in scalemesh_coordinator_stale_results_total and in nothing else:
// every accepted task SUCCEEDED exactly once, the frozen worker's tasks on
// another worker. Tasks: SCALEMESH_FAULT_TASKS (>= 2,000).
//
// The woken worker comes back into service: the coordinator ends the dead
// session's call, so the worker reconnects, registers afresh and hands in its
// late results, which are acknowledged as stale.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { TaskState, WorkerState } from "../../libs/contracts/index.js";
import {
  auditAcceptedTasks,
  busiestWorker,
  listAllTasks,
  logTimeMs,
  readExecutions,
  settledLedgerFile,
  scrapeMetric,
  summarize,
  waitForAllFinal,
  waitUntil,
} from "../support/fault-cluster.js";
import { useFaultRuns } from "../support/fault-run.js";

const STALE = "scalemesh_coordinator_stale_results_total";

const runs = useFaultRuns();

describe("fault: worker SIGSTOP, declared dead, then SIGCONT", () => {
  it("re-places a frozen worker's tasks and ignores its late results as stale, counting nothing twice", async () => {
    const {
      cluster: c,
      count,
      loading,
    } = await runs.startUnderLoad({ workers: 4, slots: 16, idPrefix: "wstop" });

    // The victim: the busiest worker, once one runs at least 4 tasks.
    const { workerId: victimId, inFlight } = await busiestWorker(c.admin, 4, 10_000);
    const victim = c.workers.get(victimId);
    expect(victim, `a worker process for ${victimId}`).toBeDefined();
    const staleBefore = await scrapeMetric(c.httpPort, STALE);
    const stoppedAtMs = Date.now();
    victim?.child.kill("SIGSTOP");
    const dead = await c.coordinator.waitForLog(
      (l) => l.msg === "worker declared dead" && l.workerId === victimId,
      10_000,
    );
    // Its tasks run again elsewhere before it wakes up.
    await waitUntil(`${victimId}'s tasks placed elsewhere`, 10_000, async () => {
      const { tasks } = await c.admin.listTasks({ workerId: victimId, pageSize: 1000 });
      return tasks.every(
        (t) => t.state === TaskState.SUCCEEDED || t.state === TaskState.DEAD_LETTERED,
      );
    });
    await sleep(500);
    const resumedAtMs = Date.now();
    victim?.child.kill("SIGCONT");

    const load = await loading;
    expect([...load.refused].map(([id, e]) => `${id}: ${e.rawMessage}`)).toEqual([]);
    expect(load.accepted.size).toBe(count);
    await waitForAllFinal(c.admin, count, 60_000);

    const { tasks, listedTwice } = await listAllTasks(c.admin);
    const returned = [...tasks.values()].filter((t) =>
      t.history.some((h) => h.workerId === victimId),
    );
    // The attempts it finished after waking up that no longer counted.
    const lateIds = () =>
      new Set(
        readExecutions(c.execDir)
          .filter(
            (e) =>
              e.event === "ok" &&
              e.workerId === victimId &&
              e.atMs >= resumedAtMs &&
              returned.some((t) => t.spec?.taskId === e.taskId && t.attempt > e.attempt),
          )
          .map((e) => `${e.taskId}#${e.attempt}`),
      );
    let staleAfter = staleBefore;
    await waitUntil("the woken worker's results counted stale", 10_000, async () => {
      staleAfter = await scrapeMetric(c.httpPort, STALE);
      return lateIds().size > 0 && staleAfter - staleBefore >= lateIds().size;
    }).catch(() => undefined); // asserted below, with the figures
    const ledgerFile = await settledLedgerFile(c.ledgerPath, tasks);
    const executions = readExecutions(c.execDir);
    const problems = auditAcceptedTasks({
      accepted: load.accepted.keys(),
      tasks,
      ledgerFile,
      executions,
      listedTwice,
      faultyWorkers: new Set([victimId]),
    });
    const late = lateIds();
    // The woken worker comes back into service: its old session was ended, it reconnects and registers afresh.
    const rejoined = await waitUntil(
      `${victimId} ALIVE again`,
      5_000,
      async () =>
        (await c.admin.getWorker({ workerId: victimId })).worker?.state === WorkerState.ALIVE,
    ).then(
      () => true,
      () => false,
    );
    const victimState = (await c.admin.getWorker({ workerId: victimId })).worker?.state;
    const victimPort = victim?.httpPort ?? 0;
    const victimReady = (await fetch(`http://127.0.0.1:${victimPort}/readyz`)).status;
    const victimConnected = await scrapeMetric(victimPort, "scalemesh_worker_connected");
    const victimUnacked = await scrapeMetric(victimPort, "scalemesh_worker_unacknowledged_results");
    const victimLogs = (victim?.logs ?? [])
      .filter((l) => logTimeMs(l) >= resumedAtMs && l.msg !== "task succeeded")
      .map((l) => String(l.msg));
    const afterResume = c.coordinator.logs
      .filter((l) => l.workerId === victimId && logTimeMs(l) >= resumedAtMs)
      .map((l) => String(l.msg));
    console.log(
      `[fault d] ${count} tasks in ${load.elapsedMs} ms; SIGSTOP ${victimId} (${inFlight} in flight per Admin just before), declared dead after ${logTimeMs(dead) - stoppedAtMs} ms (${String(dead.reason)}), ` +
        `${returned.length} task(s) placed again; SIGCONT after ${resumedAtMs - stoppedAtMs} ms; ${late.size} late result(s) from it, stale counter +${staleAfter - staleBefore}; ` +
        `coordinator on ${victimId} after SIGCONT: ${JSON.stringify([...new Set(afterResume)])}; ` +
        `5 s after the load: ${victimId} ${rejoined ? "rejoined" : "did not rejoin"} (Admin state ${victimState === undefined ? "-" : WorkerState[victimState]}, its /readyz ${victimReady}, ` +
        `scalemesh_worker_connected ${victimConnected}, scalemesh_worker_unacknowledged_results ${victimUnacked}, its own log since SIGCONT: ${JSON.stringify([...new Set(victimLogs)])})`,
    );

    expect(summarize(problems)).toEqual([]);
    expect(rejoined, `${victimId} back to ALIVE after SIGCONT`).toBe(true);
    expect(victimUnacked, "its late results acknowledged (as stale)").toBe(0);
    expect(returned.length).toBe(Number(dead.tasksReturned));
    expect(returned.length).toBeGreaterThan(0);
    for (const task of returned) {
      const id = task.spec?.taskId;
      expect(task.state, id).toBe(TaskState.SUCCEEDED);
      expect(task.workerId, id).not.toBe(victimId);
      expect(task.history.at(-1)?.workerId, id).toBe(victimId);
      expect(task.history.at(-1)?.error, id).toMatch(/no heartbeat/);
    }
    // Its late results came, were counted as stale, and changed nothing.
    expect(late.size).toBeGreaterThan(0);
    expect(staleAfter - staleBefore).toBeGreaterThanOrEqual(late.size);
    const { workers: afterwards } = await c.admin.listWorkers({ includeDead: true });
    expect(afterwards.reduce((sum, w) => sum + Number(w.tasksSucceeded), 0)).toBe(count);
    expect(Number((await c.admin.getClusterStatus({})).tasksByState.SUCCEEDED)).toBe(count);
  }, 120_000);
});
