import { describe, expect, it } from "vitest";
import { createLoadForecasts } from "./load-forecasts.js";

const T0 = 1_700_000_000_000;

function forecastsAfter(
  series: Record<string, number[]>,
  horizonMs = 5_000,
): Map<string, number | undefined> {
  const forecasts = createLoadForecasts({ horizonMs });
  for (const [workerId, values] of Object.entries(series))
    values.forEach((inFlight, i) => forecasts.observe(workerId, T0 + i * 1000, inFlight));
  const published = new Map<string, number | undefined>();
  const last = Math.max(...Object.values(series).map((v) => v.length - 1));
  forecasts.refresh(T0 + last * 1000, (id, value) => published.set(id, value));
  return published;
}

describe("per-worker load forecasts", () => {
  it("projects a climbing worker above a draining one, a few seconds ahead", () => {
    const published = forecastsAfter({
      climbing: [0, 1, 2, 3, 4, 5, 6],
      draining: [6, 5, 4, 3, 2, 1, 0],
    });
    expect(published.get("climbing")).toBeGreaterThan(8);
    expect(published.get("draining")).toBeLessThan(1);
  });

  it("keeps a steady worker where it is", () => {
    expect(forecastsAfter({ steady: [3, 3, 3, 3, 3, 3] }).get("steady")).toBeCloseTo(3, 6);
  });

  it("says nothing with fewer than three points, and forgets a worker that left", () => {
    const forecasts = createLoadForecasts({ horizonMs: 5_000 });
    forecasts.observe("new", T0, 2);
    forecasts.observe("gone", T0, 1);
    forecasts.observe("gone", T0 + 1000, 2);
    forecasts.observe("gone", T0 + 2000, 3);
    forecasts.forget("gone");
    const published = new Map<string, number | undefined>();
    forecasts.refresh(T0 + 1000, (id, value) => published.set(id, value));
    expect([...published.entries()]).toEqual([["new", undefined]]);
  });

  it("reads a quiet worker's count as held until now, not as a gap", () => {
    const forecasts = createLoadForecasts({ horizonMs: 5_000 });
    [4, 4, 4].forEach((inFlight, i) => forecasts.observe("quiet", T0 + i * 1000, inFlight));
    let value: number | undefined;
    forecasts.refresh(T0 + 30_000, (_id, forecast) => (value = forecast));
    expect(value).toBeCloseTo(4, 6);
  });
});

describe("withdrawing forecasts", () => {
  it("publishes no forecast for every worker it knows", () => {
    const forecasts = createLoadForecasts({ horizonMs: 5_000 });
    forecasts.observe("a", T0, 1);
    forecasts.observe("b", T0, 2);
    const withdrawn: [string, undefined][] = [];
    forecasts.withdraw((id, value) => withdrawn.push([id, value]));
    expect(withdrawn).toEqual([
      ["a", undefined],
      ["b", undefined],
    ]);
  });
});
