// How wrong the forecasts that steer scaling have been lately: each forecast
// made for a lead time ahead is kept until it comes due, then scored against
// the demand that came, |actual − forecast| / max(actual, 1) (the optimizer's
// scalemesh_optimizer_demand_forecast_error_ratio), and folded into an
// exponentially weighted mean. The scaling policy lets a forecast steer only
// while this stays low, so a model that stops fitting (a step, a spike, a
// season that changed) hands the fleet back to the reactive rule by itself.
// Pure: the state is plain data, the caller keeps it.

export interface LeadErrorState {
  /** Forecasts not yet due, oldest first. */
  readonly pending: readonly { readonly dueMs: number; readonly value: number }[];
  /** The weighted mean error so far; absent before anything was scored. */
  readonly errorRatio?: number;
  readonly scored: number;
}

export const EMPTY_LEAD_ERROR: LeadErrorState = { pending: [], scored: 0 };

/** Weight of the newest score: about the last ten forecasts count. */
export const LEAD_ERROR_WEIGHT = 0.1;

export function recordLeadForecast(
  state: LeadErrorState,
  forecast: { readonly dueMs: number; readonly value: number },
): LeadErrorState {
  return { ...state, pending: [...state.pending, forecast] };
}

/** Scores every forecast due by nowMs against the demand measured now. */
export function scoreLeadForecasts(
  state: LeadErrorState,
  measured: { readonly nowMs: number; readonly demand: number },
): LeadErrorState {
  let { errorRatio, scored } = state;
  const pending = [];
  for (const forecast of state.pending) {
    if (forecast.dueMs > measured.nowMs) {
      pending.push(forecast);
      continue;
    }
    const error = Math.abs(measured.demand - forecast.value) / Math.max(measured.demand, 1);
    errorRatio =
      errorRatio === undefined ? error : errorRatio + LEAD_ERROR_WEIGHT * (error - errorRatio);
    scored += 1;
  }
  return errorRatio === undefined ? { pending, scored } : { pending, errorRatio, scored };
}
