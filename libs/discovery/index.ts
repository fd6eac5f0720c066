export * from "./endpoint-uri.js";
export * from "./endpoint-watch.js";
export * from "./endpoint-resolver.js";
export * from "./registrar.js";
export * from "./create-registrar.js";
export * from "./self-registration.js";
