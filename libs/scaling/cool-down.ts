// cool_down_sec: after any scale action, no scale-down for a while, so a
// fleet that just grew is not shrunk by the next quiet sample. Scale-ups are
// not delayed: reacting slowly to a spike is the complaint to avoid, and the
// up rate policies already pace them.
import { adjustCandidate, formatSeconds, type ScaleCandidate } from "./scale-candidate.js";

export interface CoolDownInput {
  readonly fleetWorkers: number;
  readonly nowMs: number;
  readonly coolDownSec: number;
  readonly lastScaleAtMs?: number;
}

export function applyCoolDown(candidate: ScaleCandidate, input: CoolDownInput): ScaleCandidate {
  const { fleetWorkers, lastScaleAtMs } = input;
  if (candidate.workers >= fleetWorkers || lastScaleAtMs === undefined) return candidate;
  const sinceMs = input.nowMs - lastScaleAtMs;
  if (sinceMs >= input.coolDownSec * 1000) return candidate;
  const note = `held at ${fleetWorkers} for cool_down_sec ${formatSeconds(input.coolDownSec)} (last scale action ${formatSeconds(sinceMs / 1000)} s ago)`;
  return adjustCandidate(candidate, fleetWorkers, "CoolingDown", note);
}
