// Fault: a worker agent is SIGKILLed mid-task under load (real processes: one
// coordinator, one balancer, four worker agents running the counting sleep
// handler, 20..100 ms per task). Its stream breaks, the coordinator declares
// it dead after the reconnect grace (0.5 s here) and places its unfinished
// tasks again elsewhere with attempt 2 and a history record naming it. Every
// accepted task ends SUCCEEDED exactly once: Admin, the ledger file and the
// handlers' execution records all agree. Tasks: SCALEMESH_FAULT_TASKS (>= 2,000).
// Prints the time from the kill to "worker declared dead" and to the first
// and last re-run of its tasks.
import { describe, expect, it } from "vitest";
import { busiestWorker, logTimeMs, summarize } from "../support/fault-cluster.js";
import { auditedOutcome, useFaultRuns } from "../support/fault-run.js";

const runs = useFaultRuns();

describe("fault: worker SIGKILL under load", () => {
  it("re-places the killed worker's tasks elsewhere with attempt 2 and a history record naming it; every accepted task succeeds once", async () => {
    const run = await runs.startUnderLoad({ workers: 4, slots: 16, idPrefix: "wkill" });
    const { cluster: c, count } = run;

    // The victim: the busiest worker, once one runs at least 4 tasks.
    const { workerId: victimId, inFlight } = await busiestWorker(c.admin, 4, 10_000);
    const victim = c.workers.get(victimId);
    expect(victim, `a worker process for ${victimId}`).toBeDefined();
    const killedAtMs = Date.now();
    victim?.child.kill("SIGKILL");

    const { load, tasks, executions, problems } = await auditedOutcome(run, {
      faultyWorkers: new Set([victimId]),
    });
    const dead = await c.coordinator.waitForLog(
      (l) => l.msg === "worker declared dead" && l.workerId === victimId,
      10_000,
    );
    const returned = [...tasks.values()].filter((t) =>
      t.history.some((h) => h.workerId === victimId),
    );
    const reruns = executions
      .filter(
        (e) =>
          e.event === "start" &&
          e.attempt === 2 &&
          returned.some((t) => t.spec?.taskId === e.taskId),
      )
      .map((e) => e.atMs)
      .sort((a, b) => a - b);
    // Printed before the assertions, so a failing run reports them too.
    console.log(
      `[fault a] ${count} tasks in ${load.elapsedMs} ms; SIGKILL ${victimId} (${inFlight} in flight per Admin just before) with ${returned.length} task(s) returned; ` +
        `declared dead after ${logTimeMs(dead) - killedAtMs} ms (${String(dead.reason)}); ` +
        `its tasks started again (handler start of attempt 2) from ${(reruns[0] ?? NaN) - killedAtMs} ms to ${(reruns.at(-1) ?? NaN) - killedAtMs} ms after the kill`,
    );

    expect(summarize(problems)).toEqual([]);

    // The victim's tasks: each finished elsewhere, attempt 2, history naming it.
    expect(returned.length).toBe(Number(dead.tasksReturned));
    expect(returned.length).toBeGreaterThan(0);
    for (const task of returned) {
      const id = task.spec?.taskId;
      expect(task.attempt, id).toBe(2);
      expect(task.workerId, id).not.toBe(victimId);
      expect(task.history[0]?.workerId, id).toBe(victimId);
      expect(task.history[0]?.error, id).toMatch(new RegExp(`worker ${victimId} died`));
    }
    // Nobody else lost a task.
    expect(
      [...tasks.values()]
        .filter((t) => t.attempt !== 1 && !returned.includes(t))
        .map((t) => t.spec?.taskId),
    ).toEqual([]);
    // Counted once: the coordinator's per-worker successes add up to the tasks.
    const { workers: afterwards } = await c.admin.listWorkers({ includeDead: true });
    expect(afterwards.reduce((sum, w) => sum + Number(w.tasksSucceeded), 0)).toBe(count);
  }, 120_000);
});
