// Gradual steps: while started workers have not yet registered and proved
// healthy, the fleet holds at ready + starting. The signals were measured on
// the ready workers only, so the next step up waits until the new ones take
// their share of the load (otherwise every sync interval would add workers
// for load the starting ones are about to absorb), and no scale-down races
// the start either. Only a lower ceiling (a burst's end, hard_max_workers)
// cuts through the hold.
import { adjustCandidate, plural, type ScaleCandidate } from "./scale-candidate.js";

export interface GradualStepInput {
  readonly readyWorkers: number;
  readonly startingWorkers: number;
  readonly upperBoundWorkers: number;
}

export function holdForStartingWorkers(
  candidate: ScaleCandidate,
  input: GradualStepInput,
): ScaleCandidate {
  if (input.startingWorkers === 0) return candidate;
  const heldWorkers = Math.min(input.readyWorkers + input.startingWorkers, input.upperBoundWorkers);
  if (candidate.workers === heldWorkers) return candidate;
  const note = `${plural(input.startingWorkers, "worker")} still starting: holding at ${heldWorkers} until ${input.startingWorkers === 1 ? "it is" : "they are"} ready`;
  return adjustCandidate(candidate, heldWorkers, "WaitingForNewWorkers", note);
}
