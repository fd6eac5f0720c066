export * from "./circuit-breaker.js";
export * from "./health-score.js";
export * from "./health-tracker.js";
export * from "./peak-ewma.js";
export * from "./slow-start.js";
