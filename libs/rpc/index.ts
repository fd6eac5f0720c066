export * from "./errors.js";
export * from "./client.js";
export * from "./server.js";
export * from "./http-server.js";
export * from "./shutdown.js";
export { readMessages } from "./message-queue.js";
export * from "./async-queue.js";
export * from "./service-host.js";
export { waitBeforeReconnect } from "./reconnect-wait.js";
