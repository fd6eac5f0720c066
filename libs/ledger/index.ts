export * from "./task-ledger.js";
export * from "./pending-queue.js";
export * from "./validate-task.js";
