import { type ErrorKind, ServingError } from "../core/errors.js";

/** Longest error message sent in a REST error body, in characters (as gRPC caps its status message). */
export const MAX_ERROR_CHARS = 512;

/**
 * HTTP status of each domain error, as gRPC's HTTP mapping (google.rpc.Code, grpc-gateway) gives it;
 * `code` is the gRPC code of the same error, so both protocols count in one vocabulary.
 */
const STATUS: Record<ErrorKind, { http: number; code: string }> = {
  invalid_argument: { http: 400, code: "INVALID_ARGUMENT" },
  failed_precondition: { http: 400, code: "FAILED_PRECONDITION" },
  not_found: { http: 404, code: "NOT_FOUND" },
  resource_exhausted: { http: 429, code: "RESOURCE_EXHAUSTED" },
  cancelled: { http: 499, code: "CANCELLED" },
  internal: { http: 500, code: "INTERNAL" },
  unavailable: { http: 503, code: "UNAVAILABLE" },
  deadline_exceeded: { http: 504, code: "DEADLINE_EXCEEDED" },
};

/** A REST answer to an error: the HTTP status, the gRPC code name, and the message of `{"error": ...}`. */
export interface HttpError {
  status: number;
  code: string;
  message: string;
}

/** The one place where errors become HTTP statuses. Unknown errors are 500, details hidden. */
export function httpStatusFor(err: unknown): HttpError {
  if (!(err instanceof ServingError)) return { status: 500, code: "INTERNAL", message: "internal error (see server log)" };
  const s = STATUS[err.kind];
  const m = err.message;
  return { status: s.http, code: s.code, message: m.length <= MAX_ERROR_CHARS ? m : `${m.slice(0, MAX_ERROR_CHARS - 10)} ... (cut)` };
}
