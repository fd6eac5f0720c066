// The autoscaler's question to the optimizer: how many workers will the
// demand forecast need one worker start from now, and is a burst under way?
import type { Optimizer } from "../../libs/contracts/index.js";
import type { RpcClient } from "../../libs/rpc/index.js";
import type { Prediction } from "./autoscaler.js";

export function predictorOf(
  client: RpcClient<typeof Optimizer>,
): (leadTimeSec: number) => Promise<Prediction> {
  return async (leadTimeSec) => {
    const { recommendation } = await client.getRecommendation({ leadTimeSec });
    if (!recommendation) throw new Error("the optimizer answered without a recommendation");
    if (recommendation.forecastModel === "")
      throw new Error(`no forecast yet: ${recommendation.forecastMessage}`);
    const mape =
      recommendation.forecastMape >= 0
        ? `, MAPE ${(recommendation.forecastMape * 100).toFixed(0)}%`
        : "";
    return {
      predictedWorkers: recommendation.predictedWorkers,
      isBurstDetected: recommendation.burstDetected,
      note: `demand forecast ${recommendation.predictedDemand.toFixed(1)} slots in ${recommendation.leadTimeSec.toFixed(1)} s (${recommendation.forecastModel}${mape}) needs ${recommendation.predictedWorkers} worker(s)`,
    };
  };
}
