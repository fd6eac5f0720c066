export * from "./load-record.js";
export * from "./load-history.js";
export * from "./recommend.js";
export * from "./autoscale-types.js";
export * from "./autoscale-policy.js";
