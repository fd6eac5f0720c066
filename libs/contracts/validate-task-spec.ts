// Checks a task spec where it crosses the contract boundary (Assign, Place),
// before anything ranks or records it. Every refusal names the field and the
// limit, so a client can fix its request without reading our code.
import { durationMs } from "@bufbuild/protobuf/wkt";
import { invalidArgument, type ConnectError } from "../rpc/errors.js";
import type { TaskSpec } from "./gen/scalemesh/v1/types_pb.js";

export interface TaskLimits {
  readonly maxPayloadBytes: number;
}

const ID_PATTERN = /^[A-Za-z0-9._:\-/]{1,128}$/;
const MAX_TIMEOUT_SEC = 7 * 24 * 3600;
const MAX_NAME_CHARS = 64;

export function validateTaskSpec(
  spec: TaskSpec | undefined,
  limits: TaskLimits,
  prefix = "task",
): ConnectError | undefined {
  if (!spec) return invalidArgument(prefix, "is required");
  if (spec.taskId !== "" && !ID_PATTERN.test(spec.taskId)) {
    return invalidArgument(
      `${prefix}.task_id`,
      `"${spec.taskId.slice(0, 40)}" must be 1..128 characters of letters, digits and . _ : - /`,
    );
  }
  if (spec.payload.length > limits.maxPayloadBytes) {
    return invalidArgument(
      `${prefix}.payload`,
      `${spec.payload.length} bytes is over the limit of ${limits.maxPayloadBytes} bytes (rpc.max_payload_bytes)`,
    );
  }
  if (spec.routingKey.length > 256)
    return invalidArgument(`${prefix}.routing_key`, "must be at most 256 characters");
  for (const [field, value] of [
    ["task_type", spec.taskType],
    ["preferred_region", spec.preferredRegion],
    ["required_region", spec.requiredRegion],
    ["required_zone", spec.requiredZone],
  ] as const) {
    if (value.length > MAX_NAME_CHARS)
      return invalidArgument(`${prefix}.${field}`, `must be at most ${MAX_NAME_CHARS} characters`);
  }
  if (spec.requiredCapabilities.length > 32)
    return invalidArgument(`${prefix}.required_capabilities`, "at most 32 entries");
  const badCapability = spec.requiredCapabilities.find((c) => c.length === 0 || c.length > 64);
  if (badCapability !== undefined)
    return invalidArgument(
      `${prefix}.required_capabilities`,
      `"${badCapability}" must be 1..64 characters`,
    );
  if (spec.maxAttempts > 100)
    return invalidArgument(
      `${prefix}.max_attempts`,
      `${spec.maxAttempts} is over the limit of 100`,
    );
  if (spec.timeout) {
    const seconds = durationMs(spec.timeout) / 1000;
    if (!(seconds > 0) || seconds > MAX_TIMEOUT_SEC)
      return invalidArgument(
        `${prefix}.timeout`,
        `${seconds} s must be above 0 and at most ${MAX_TIMEOUT_SEC} s`,
      );
  }
  if (Math.abs(spec.priority) > 1_000_000)
    return invalidArgument(`${prefix}.priority`, "must be within ±1,000,000");
  if (Object.keys(spec.labels).length > 64)
    return invalidArgument(`${prefix}.labels`, "at most 64 labels");
  return undefined;
}
