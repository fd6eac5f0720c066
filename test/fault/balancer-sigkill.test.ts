// Fault: two balancers in front of one coordinator, and one of them is
// SIGKILLed under load (real processes: four worker agents running the
// counting sleep handler). Clients spread their calls over both; a call that
// gets UNAVAILABLE or DEADLINE_EXCEEDED from the dead one is retried with the
// same task id on the other (the same id and content returns the existing
// task if the dead balancer had already placed it). Every accepted task ends
// SUCCEEDED exactly once, on its first attempt: losing a balancer costs no
// work. Tasks: SCALEMESH_FAULT_TASKS (>= 2,000).
import { describe, expect, it } from "vitest";
import { summarize } from "../support/fault-cluster.js";
import { auditedOutcome, useFaultRuns } from "../support/fault-run.js";

const runs = useFaultRuns();

describe("fault: one of two balancers SIGKILLed under load", () => {
  it("carries on through the other balancer; every accepted task succeeds exactly once", async () => {
    const run = await runs.startUnderLoad({
      workers: 4,
      slots: 16,
      balancers: 2,
      idPrefix: "bkill",
    });
    const { cluster: c, count } = run;

    const [dead, survivor] = c.balancers;
    const killedAtMs = Date.now();
    dead?.child.kill("SIGKILL");
    await dead?.exited;

    const { load, tasks, problems } = await auditedOutcome(run);
    const onDead = load.failedCalls.filter((f) => f.clientIndex === 0);
    const retriedElsewhere = new Set(
      onDead.filter((f) => load.accepted.has(f.taskId)).map((f) => f.taskId),
    );
    const inFlightAtKill = onDead.filter((f) => f.startedAtMs < killedAtMs);
    console.log(
      `[fault c] ${count} tasks in ${load.elapsedMs} ms; balancer 1 SIGKILLed after ${Math.floor(count / 3)} accepted; ` +
        `${onDead.length} calls failed on it (${inFlightAtKill.length} of them in flight at the kill; codes ${[...new Set(onDead.map((f) => f.code))].join(",")}), ` +
        `${retriedElsewhere.size} of those tasks accepted through balancer 2; calls failing on balancer 2: ${load.failedCalls.length - onDead.length}`,
    );

    expect(summarize(problems)).toEqual([]);
    expect([...tasks.keys()].filter((id) => !load.accepted.has(id))).toEqual([]);
    // Losing a balancer costs no attempt: nothing was placed twice or lost on a worker.
    expect([...tasks.values()].filter((t) => t.attempt !== 1).map((t) => t.spec?.taskId)).toEqual(
      [],
    );
    // Clients did meet the dead balancer, and their tasks went through the survivor.
    expect(onDead.length).toBeGreaterThan(0);
    expect(retriedElsewhere.size).toBe(new Set(onDead.map((f) => f.taskId)).size);
    expect(load.failedCalls.filter((f) => f.clientIndex === 1)).toEqual([]);
    expect(survivor?.child.exitCode).toBeNull();
  }, 120_000);
});
