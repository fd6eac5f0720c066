export * from "./types.js";
export * from "./filters.js";
export * from "./placement-stack.js";
export * from "./strategy-options.js";
export * from "./seeded-random.js";
export * from "./health/index.js";
export type { Strategy } from "./strategy.js";
export * from "./worker-status.js";
export * from "./placement-request.js";
