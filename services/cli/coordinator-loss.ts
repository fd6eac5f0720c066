// Which failed calls mean the coordinator cannot be reached right now (a
// watch or a wait says so and tries again) and which are answers that
// retrying cannot change (a bad request, a missing role): those end the command.
import { status as grpcStatus } from "@grpc/grpc-js";
import { Code, ConnectError, isServiceError, toConnectError } from "../../libs/rpc/index.js";

const FINAL_ANSWERS: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.Unimplemented,
  Code.FailedPrecondition,
  Code.OutOfRange,
]);

/** Only statuses count: a plain exception is a bug of ours, not a lost coordinator. */
export function isCoordinatorLost(error: unknown): boolean {
  if (!(error instanceof ConnectError) && !isServiceError(error)) return false;
  return !FINAL_ANSWERS.has(toConnectError(error).code);
}

/** UNAVAILABLE, DEADLINE_EXCEEDED, ...: gRPC's own names for its codes. */
export function statusName(code: Code | undefined): string {
  return code === undefined ? "?" : (grpcStatus[code as number] ?? String(code));
}

/** "<message> (<STATUS>)", as the CLI prints a refusal. */
export function failureText(error: unknown): string {
  const status = toConnectError(error);
  return `${status.rawMessage} (${statusName(status.code)})`;
}
