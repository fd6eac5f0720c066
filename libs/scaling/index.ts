export * from "./load-record.js";
export * from "./load-history.js";
export * from "./recommend.js";
