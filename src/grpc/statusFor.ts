import { status } from "@grpc/grpc-js";
import { type ErrorKind, ServingError } from "../core/errors.js";

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

/** Longest status message sent, in UTF-8 bytes: it travels in a trailer, and clients bound metadata size. */
export const MAX_STATUS_MESSAGE_BYTES = 512;

/** The one place where errors become gRPC status codes. Unknown errors are INTERNAL, details hidden. */
export function statusFor(err: unknown): { code: status; details: string } {
  if (err instanceof ServingError) return { code: CODES[err.kind], details: capMessage(err.message) };
  return { code: status.INTERNAL, details: "internal error (see server log)" };
}

/** Cuts a status message to MAX_STATUS_MESSAGE_BYTES of UTF-8 without splitting a character. */
export function capMessage(message: string): string {
  const bytes = Buffer.from(message, "utf8");
  if (bytes.length <= MAX_STATUS_MESSAGE_BYTES) return message;
  const suffix = " ... (cut)";
  let end = MAX_STATUS_MESSAGE_BYTES - suffix.length;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return bytes.subarray(0, end).toString("utf8") + suffix;
}
