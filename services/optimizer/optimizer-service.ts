// The Optimizer service: Observe feeds the load history with the samples the
// coordinator streams; GetRecommendation asks libs/scaling what that history
// calls for. The decision itself lives in recommendWorkers; this is the shell.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Optimizer } from "../../libs/contracts/index.js";
import { invalidArgument } from "../../libs/rpc/index.js";
import { recommendWorkers, type LoadHistory, type Recommendation, type ScalingPolicy } from "../../libs/scaling/index.js";
import { checkLoadSample } from "./load-sample.js";
import { desiredWorkersGauge, samplesObservedCounter } from "./metrics.js";

export interface OptimizerDeps {
  readonly history: LoadHistory;
  readonly policy: ScalingPolicy;
  readonly logger: Logger;
  /** Epoch ms; injected so tests replay exactly. */
  readonly now?: () => number;
}

export function optimizerService(deps: OptimizerDeps): ServiceImpl<typeof Optimizer> {
  const now = deps.now ?? Date.now;
  let last: Recommendation | undefined;

  return {
    // The coordinator keeps one stream open and pushes a sample every sync
    // interval, so each sample joins the history as it arrives; the count
    // goes back only when the stream ends. One bad sample ends the stream
    // with INVALID_ARGUMENT; those before it stay accepted.
    async observe(requests) {
      let accepted = 0;
      for await (const request of requests) {
        const checked = checkLoadSample(request.sample);
        if (checked.kind === "invalid") {
          samplesObservedCounter.inc({ outcome: "rejected" });
          deps.logger.warn({ field: checked.field, problem: checked.problem, accepted }, "load sample rejected; ending the Observe stream");
          throw invalidArgument(checked.field, `${checked.problem} (message ${accepted + 1} of the stream; ${accepted} accepted before it)`);
        }
        deps.history.append(checked.record, now());
        accepted += 1;
        samplesObservedCounter.inc({ outcome: "accepted" });
      }
      deps.logger.debug({ accepted }, "Observe stream ended");
      return { samplesAccepted: BigInt(accepted) };
    },

    getRecommendation() {
      const nowMs = now();
      const recommendation = recommendWorkers({ ...deps.policy, samples: deps.history.samples(nowMs), now: nowMs });
      desiredWorkersGauge.set(recommendation.desiredWorkers);
      // Say it when the answer changes, so "why 7 workers?" has an answer in the log.
      if (last?.desiredWorkers !== recommendation.desiredWorkers || last.reason !== recommendation.reason) {
        deps.logger.info(
          { currentWorkers: recommendation.currentWorkers, desiredWorkers: recommendation.desiredWorkers, reason: recommendation.reason, utilization: recommendation.utilization },
          recommendation.message,
        );
      }
      last = recommendation;
      return { ...recommendation };
    },
  };
}
