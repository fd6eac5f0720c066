export * from "./bounded-label.js";
export * from "./label-children.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./tracing.js";
export * from "./version.js";
