import { describe, expect, it } from "vitest";
import {
  EMPTY_LEAD_ERROR,
  LEAD_ERROR_WEIGHT,
  recordLeadForecast,
  scoreLeadForecasts,
} from "./lead-error.js";

describe("lead-time forecast error", () => {
  it("scores a forecast only once it is due, as |actual − forecast| / max(actual, 1)", () => {
    let state = recordLeadForecast(EMPTY_LEAD_ERROR, { dueMs: 75_000, value: 8 });
    state = scoreLeadForecasts(state, { nowMs: 60_000, demand: 100 });
    expect(state).toMatchObject({ scored: 0, pending: [{ dueMs: 75_000 }] });
    expect(state.errorRatio).toBeUndefined();
    state = scoreLeadForecasts(state, { nowMs: 75_000, demand: 10 });
    expect(state.scored).toBe(1);
    expect(state.errorRatio).toBeCloseTo(0.2, 12);
    expect(state.pending).toHaveLength(0);
  });

  it("divides by at least one task, so an idle moment does not read as an infinite error", () => {
    const state = scoreLeadForecasts(
      recordLeadForecast(EMPTY_LEAD_ERROR, { dueMs: 0, value: 0.5 }),
      {
        nowMs: 0,
        demand: 0,
      },
    );
    expect(state.errorRatio).toBeCloseTo(0.5, 12);
  });

  it("weights the newest score by LEAD_ERROR_WEIGHT", () => {
    let state = recordLeadForecast(EMPTY_LEAD_ERROR, { dueMs: 0, value: 10 });
    state = scoreLeadForecasts(state, { nowMs: 0, demand: 10 }); // error 0
    state = scoreLeadForecasts(recordLeadForecast(state, { dueMs: 1, value: 20 }), {
      nowMs: 1,
      demand: 10,
    }); // error 1
    expect(state.errorRatio).toBeCloseTo(LEAD_ERROR_WEIGHT, 12);
  });
});
