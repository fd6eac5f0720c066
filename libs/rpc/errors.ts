// The one place where errors meet status codes. Connect's Code enum is
// numbered exactly like gRPC's status codes, so one error class serves both
// the gRPC port and the Connect (HTTP/JSON) port.
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, type ServiceError, type StatusObject } from "@grpc/grpc-js";

export { Code, ConnectError };

/** A refusal that names the field at fault, as DESIGN.md's status table asks. */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

export function notFound(message: string): ConnectError {
  return new ConnectError(message, Code.NotFound);
}

export function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

export function unavailable(message: string): ConnectError {
  return new ConnectError(message, Code.Unavailable);
}

export function resourceExhausted(message: string): ConnectError {
  return new ConnectError(message, Code.ResourceExhausted);
}

export function alreadyExists(message: string): ConnectError {
  return new ConnectError(message, Code.AlreadyExists);
}

export function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

export function permissionDenied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}

export function deadlineExceeded(message: string): ConnectError {
  return new ConnectError(message, Code.DeadlineExceeded);
}

/**
 * Any thrown value as a ConnectError. An exception that is not already a
 * status becomes INTERNAL (never UNKNOWN) with its message kept, so an
 * operator sees what broke; the caller logs it.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (isServiceError(error)) return new ConnectError(error.details, error.code as number as Code);
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectError(`internal error: ${message}`, Code.Internal);
}

/** A ConnectError as the status object grpc-js sends. */
export function toGrpcStatus(error: ConnectError): Partial<StatusObject> {
  return { code: error.code as number, details: error.rawMessage, metadata: new Metadata() };
}

export function isServiceError(error: unknown): error is ServiceError {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof (error as { code: unknown }).code === "number" &&
    "details" in error &&
    "metadata" in error
  );
}
