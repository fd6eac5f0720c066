// Fault: the coordinator itself is frozen (SIGSTOP) for 10 s under load, then
// resumed (SIGCONT) (real processes: one balancer, four worker agents running
// the counting sleep handler; every 100th task sleeps 12 s, so some run right
// across the pause). Meanwhile its workers go on heartbeating and finishing
// tasks; what they send waits unread in its sockets. On waking, its liveness
// timer and those socket reads fall due together. Whichever runs first
// notices the pause (two readings of its clocks 10 s apart); it says so in
// one warn line and judges no worker before it has heard from it again or
// one heartbeat timeout has passed: no worker is declared dead, no task a
// handler had started runs again, and every accepted task SUCCEEDED once. A worker SIGKILLed during
// the pause is still declared dead after that grace, and only its tasks run
// again. Tasks: SCALEMESH_FAULT_TASKS (>= 2,000).
//
// One second attempt is not blame: a worker whose keepalive ping (10 s, 5 s
// timeout) fell in the first half of the pause closes its session and
// registers again on waking, and an assignment the coordinator had queued for
// the old session just before it froze never reached it. The register finds
// the task not running there and places it again, attempt 2, its first run
// ("came back without it"). Seen in most runs, up to 25 tasks; the cases
// check that no handler ever started such a task's first attempt.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Task } from "../../libs/contracts/index.js";
import {
  logTimeMs,
  readExecutions,
  scrapeMetric,
  sleepPayload,
  summarize,
  waitUntil,
  type Execution,
} from "../support/fault-cluster.js";
import { auditedOutcome, useFaultRuns, type FaultRun } from "../support/fault-run.js";
import type { ServiceProcess } from "../support/service-process.js";

const PAUSE_MS = 10_000;
const LONG_TASK_MS = 12_000;
const DEATHS = "scalemesh_coordinator_worker_deaths_total";
const PAUSE_WARNING = /^coordinator paused/;

/** The fault tests' 20..100 ms sleeps, and 12 s for every 100th task. */
function payload(i: number): Uint8Array {
  return i % 100 === 0
    ? new TextEncoder().encode(JSON.stringify({ ms: LONG_TASK_MS }))
    : sleepPayload(i);
}

const runs = useFaultRuns();

/**
 * Clients wait out the pause: with the load's 5 s deadline, a few Assign
 * calls stuck behind the frozen coordinator came back CANCELLED ("the call
 * was cancelled", the balancer's answer when the call's signal aborts at its
 * deadline), which the load does not retry. Not this test's subject.
 */
const CALL_TIMEOUT_MS = 20_000;

/** SIGSTOPs the process for `pauseMs`, running `meanwhile` while it is stopped; SIGCONTs it whatever happens. */
async function freeze(
  frozen: ServiceProcess,
  pauseMs: number,
  meanwhile: () => Promise<void> = async () => {},
): Promise<{ stoppedAtMs: number; resumedAtMs: number }> {
  const stoppedAtMs = Date.now();
  frozen.child.kill("SIGSTOP");
  try {
    await meanwhile();
    await sleep(Math.max(0, stoppedAtMs + pauseMs - Date.now()));
  } finally {
    frozen.child.kill("SIGCONT");
  }
  return { stoppedAtMs, resumedAtMs: Date.now() };
}

/** A 12 s task's attempt that a handler has started and not finished: the worker running it. */
async function workerRunningALongTask(execDir: string): Promise<string> {
  let workerId = "";
  await waitUntil("a 12 s task running", 20_000, () => {
    const executions = readExecutions(execDir);
    const ended = new Set(
      executions.filter((e) => e.event !== "start").map((e) => `${e.taskId}#${e.attempt}`),
    );
    const running = executions.find(
      (e) =>
        e.event === "start" &&
        Number(e.taskId.split("-").at(-1)) % 100 === 0 &&
        !ended.has(`${e.taskId}#${e.attempt}`),
    );
    workerId = running?.workerId ?? "";
    return running !== undefined;
  });
  return workerId;
}

/** Everything the two cases check once the load is over, printed before any assertion. */
async function afterThePause(run: FaultRun, faultyWorkers: ReadonlySet<string>) {
  const outcome = await auditedOutcome(run, { faultyWorkers, finalWithinMs: 90_000 });
  const logs = run.cluster.coordinator.logs;
  const firstStarted = new Set(
    outcome.executions.filter((e) => e.event === "start" && e.attempt === 1).map((e) => e.taskId),
  );
  const again = [...outcome.tasks.values()].filter((t) => t.attempt !== 1);
  return {
    ...outcome,
    deaths: logs.filter((l) => l.msg === "worker declared dead"),
    warnings: logs.filter((l) => PAUSE_WARNING.test(String(l.msg))),
    resumed: logs.find((l) => l.msg === "liveness judgement resumed after the coordinator's pause"),
    /** Past attempt 1 though a handler had started attempt 1: work done again. */
    rerun: again.filter((t) => firstStarted.has(t.spec?.taskId ?? "")),
    /** Past attempt 1, attempt 1 never started anywhere: its assignment was lost on the way. */
    undelivered: again.filter((t) => !firstStarted.has(t.spec?.taskId ?? "")),
  };
}

/** Those whose first assignment went down with a session its worker closed during the pause. */
function lostWithASession(undelivered: readonly Task[]): string[] {
  return undelivered.map(attemptsOf).filter((shown) => !/came back without it/.test(shown));
}

function attemptsOf(task: Task): string {
  const history = task.history.map((h) => `#${h.attempt} on ${h.workerId}: ${h.error}`);
  return `${task.spec?.taskId} attempt ${task.attempt} [${history.join("; ")}]`;
}

/** Attempts a handler started before the pause and finished after it (1), or finished during it (2). */
function spanning(executions: readonly Execution[], stoppedAtMs: number, resumedAtMs: number) {
  const startedBefore = new Set(
    executions
      .filter((e) => e.event === "start" && e.atMs < stoppedAtMs)
      .map((e) => `${e.taskId}#${e.attempt}`),
  );
  const oks = executions.filter(
    (e) => e.event === "ok" && startedBefore.has(`${e.taskId}#${e.attempt}`),
  );
  return {
    acrossThePause: oks.filter((e) => e.atMs > resumedAtMs).length,
    finishedDuringIt: oks.filter((e) => e.atMs >= stoppedAtMs && e.atMs <= resumedAtMs).length,
  };
}

function shownDeath(line: Record<string, unknown>): string {
  return `${String(line.workerId)}: ${String(line.reason)} (${String(line.tasksReturned)} returned)`;
}

describe("fault: coordinator SIGSTOP for 10 s under load, then SIGCONT", () => {
  it("declares no worker dead for its own pause and runs no started task again; every accepted task ends once", async () => {
    const run = await runs.startUnderLoad({
      workers: 4,
      slots: 16,
      idPrefix: "cstop",
      payload,
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    const { cluster: c, count } = run;
    await workerRunningALongTask(c.execDir);
    const deathsBefore = await scrapeMetric(c.httpPort, DEATHS);
    const { stoppedAtMs, resumedAtMs } = await freeze(c.coordinator, PAUSE_MS);
    await c.coordinator
      .waitForLog((l) => PAUSE_WARNING.test(String(l.msg)), 5_000)
      .catch(() => undefined); // asserted below, with the figures
    const seen = await afterThePause(run, new Set());
    const deathsAfter = await scrapeMetric(c.httpPort, DEATHS);
    const { acrossThePause, finishedDuringIt } = spanning(
      seen.executions,
      stoppedAtMs,
      resumedAtMs,
    );
    const warning = seen.warnings[0];
    console.log(
      `[fault e] ${count} tasks in ${seen.load.elapsedMs} ms; coordinator SIGSTOPped for ${resumedAtMs - stoppedAtMs} ms; ` +
        `${finishedDuringIt} attempt(s) finished by handlers during the pause, ${acrossThePause} ran across it; ` +
        `its warn line(s): ${JSON.stringify(seen.warnings.map((l) => ({ msg: l.msg, reason: l.reason, pauseMs: l.pauseMs, workersNotJudged: l.workersNotJudged, wouldHaveDeclaredDead: l.wouldHaveDeclaredDead, detail: l.detail, atMs: logTimeMs(l) - resumedAtMs })))}; ` +
        `resumed: ${JSON.stringify(seen.resumed ? { heardAgain: seen.resumed.heardAgain, notHeard: seen.resumed.notHeard } : null)}; ` +
        `sessions the workers closed and opened again: ${c.coordinator.logs.filter((l) => l.msg === "worker stream lost; waiting for it to reconnect").length}; ` +
        `workers declared dead: ${seen.deaths.length} ${JSON.stringify(seen.deaths.map(shownDeath))}, ${DEATHS} +${deathsAfter - deathsBefore}; ` +
        `${seen.rerun.length} started task(s) run again, e.g. ${JSON.stringify(seen.rerun.slice(0, 3).map(attemptsOf))}; ` +
        `${seen.undelivered.length} placed again before any run, e.g. ${JSON.stringify(seen.undelivered.slice(0, 2).map(attemptsOf))}`,
    );

    expect(seen.deaths.map(shownDeath)).toEqual([]);
    expect(deathsAfter - deathsBefore).toBe(0);
    expect(seen.rerun.map(attemptsOf)).toEqual([]);
    expect(lostWithASession(seen.undelivered)).toEqual([]);
    expect(summarize(seen.problems)).toEqual([]);
    // It said so, once, naming the pause and the workers it did not judge.
    expect(seen.warnings).toHaveLength(1);
    expect(warning).toMatchObject({ level: 40, workersNotJudged: 4 });
    expect(Number(warning?.pauseMs)).toBeGreaterThan(0);
    // The pause really caught work in flight: results sent while it was stopped, and a task running through it.
    expect(finishedDuringIt).toBeGreaterThan(0);
    expect(acrossThePause).toBeGreaterThan(0);
  }, 180_000);

  it("still declares a worker SIGKILLed during its pause dead after the grace, and runs only that worker's tasks again", async () => {
    const run = await runs.startUnderLoad({
      workers: 4,
      slots: 16,
      idPrefix: "cstopkill",
      payload,
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    const { cluster: c, count } = run;
    // The victim runs a 12 s task: that one cannot have finished, so it must run again.
    const victimId = await workerRunningALongTask(c.execDir);
    const victim = c.workers.get(victimId);
    expect(victim, `a worker process for ${victimId}`).toBeDefined();
    const deathsBefore = await scrapeMetric(c.httpPort, DEATHS);
    const { stoppedAtMs, resumedAtMs } = await freeze(c.coordinator, PAUSE_MS, async () => {
      await sleep(2_000);
      victim?.child.kill("SIGKILL");
      await victim?.exited;
    });
    const dead = await c.coordinator
      .waitForLog((l) => l.msg === "worker declared dead" && l.workerId === victimId, 15_000)
      .catch(() => undefined); // asserted below, with the figures
    const seen = await afterThePause(run, new Set([victimId]));
    const deathsAfter = await scrapeMetric(c.httpPort, DEATHS);
    const onVictim = seen.rerun.filter((t) => t.history[0]?.workerId === victimId);
    console.log(
      `[fault e2] ${count} tasks in ${seen.load.elapsedMs} ms; coordinator SIGSTOPped for ${resumedAtMs - stoppedAtMs} ms, ${victimId} SIGKILLed during it; ` +
        `warn line(s): ${JSON.stringify(seen.warnings.map((l) => ({ reason: l.reason, pauseMs: l.pauseMs, workersNotJudged: l.workersNotJudged, wouldHaveDeclaredDead: l.wouldHaveDeclaredDead })))}; ` +
        `resumed: ${JSON.stringify(seen.resumed ? { heardAgain: seen.resumed.heardAgain, notHeard: seen.resumed.notHeard } : null)}; ` +
        `${victimId} declared dead ${dead ? `${logTimeMs(dead) - resumedAtMs} ms after SIGCONT (${String(dead.reason)})` : "never"}; ` +
        `all deaths: ${JSON.stringify(seen.deaths.map(shownDeath))}, ${DEATHS} +${deathsAfter - deathsBefore}; ` +
        `${seen.rerun.length} started task(s) run again: ${JSON.stringify(seen.rerun.slice(0, 5).map(attemptsOf))}; ` +
        `${seen.undelivered.length} placed again before any run: ${JSON.stringify(seen.undelivered.slice(0, 3).map(attemptsOf))}`,
    );

    expect(dead, `${victimId} declared dead`).toBeDefined();
    expect(seen.deaths.map((l) => l.workerId)).toEqual([victimId]);
    expect(deathsAfter - deathsBefore).toBe(1);
    expect(summarize(seen.problems)).toEqual([]);
    // Its started tasks, and only its, ran again: on another worker, once each.
    expect(seen.rerun.filter((t) => t.history[0]?.workerId !== victimId).map(attemptsOf)).toEqual(
      [],
    );
    expect(onVictim.length).toBeGreaterThan(0);
    for (const task of onVictim) {
      expect(attemptsOf(task)).toMatch(/attempt 2 /);
      expect(task.workerId, attemptsOf(task)).not.toBe(victimId);
    }
    // What else went back: the victim's own undelivered assignments, or ones lost with a session another worker closed.
    expect(
      lostWithASession(seen.undelivered.filter((t) => t.history[0]?.workerId !== victimId)),
    ).toEqual([]);
    expect(seen.warnings).toHaveLength(1);
  }, 180_000);
});
