export * from "./endpoint-uri.js";
