export * from "./forecast-types.js";
export * from "./signal-history.js";
export * from "./load-history-store.js";
export * from "./holt-winters.js";
export * from "./forecast.js";
export * from "./burst-detector.js";
export * from "./efficiency.js";
export * from "./capacity-plan.js";
