export * from "./handler-spec.js";
export * from "./exec-handler.js";
export * from "./module-handler.js";
export * from "./create-handler.js";
