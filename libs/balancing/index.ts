export * from "./types.js";
export * from "./filters.js";
export * from "./placement-stack.js";
export type { Strategy } from "./strategy.js";
