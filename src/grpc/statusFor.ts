import { status } from "@grpc/grpc-js";
import { ServingError, type ErrorKind } from "../pipeline/errors.js";

const CODES: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
  unavailable: status.UNAVAILABLE,
  not_found: status.NOT_FOUND,
  failed_precondition: status.FAILED_PRECONDITION,
  internal: status.INTERNAL,
};

/** The one place where errors become gRPC status codes. Unknown errors are INTERNAL, details hidden. */
export function statusFor(err: unknown): { code: status; details: string } {
  if (err instanceof ServingError) return { code: CODES[err.kind], details: err.message };
  return { code: status.INTERNAL, details: "internal error (see server log)" };
}
