// Builders for what a worker sends up its session, so the shapes of the
// oneof live in one place.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  TaskState,
  WorkerSessionRequestSchema,
  type HeartbeatSchema,
  type RegisterSchema,
  type TaskResult,
  type TaskResultSchema,
  type WorkerSessionRequest,
} from "../contracts/index.js";

export type SessionRequest = WorkerSessionRequest;

export function registerMessage(init: MessageInitShape<typeof RegisterSchema>): SessionRequest {
  return create(WorkerSessionRequestSchema, { message: { case: "register", value: init } });
}

export function heartbeatMessage(init: MessageInitShape<typeof HeartbeatSchema>): SessionRequest {
  return create(WorkerSessionRequestSchema, { message: { case: "heartbeat", value: init } });
}

export function runningUpdateMessage(taskId: string, attempt: number): SessionRequest {
  return create(WorkerSessionRequestSchema, {
    message: { case: "taskUpdate", value: { taskId, attempt, state: TaskState.RUNNING } },
  });
}

export function taskResultMessage(init: MessageInitShape<typeof TaskResultSchema>): SessionRequest {
  return create(WorkerSessionRequestSchema, { message: { case: "taskResult", value: init } });
}

/** The result a message carries, if it carries one. */
export function resultOf(message: SessionRequest): TaskResult | undefined {
  return message.message.case === "taskResult" ? message.message.value : undefined;
}
