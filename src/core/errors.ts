/** Domain errors of the serving layers; the gRPC layer maps them to status codes in one place (statusFor). */
export type ErrorKind =
  | "invalid_argument"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "cancelled"
  | "unavailable"
  | "not_found"
  | "failed_precondition"
  | "internal";

export class ServingError extends Error {
  override name = "ServingError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(withoutStackUnlessInternal(kind, message));
    Error.stackTraceLimit = savedStackTraceLimit;
  }
}

/**
 * Only INTERNAL errors (a bug, a failed engine) keep a stack trace: the others are answers to
 * clients (refusals, bad input), made thousands of times a second under overload, where
 * capturing a stack cost about 5% of the main thread. Sets Error.stackTraceLimit for the one
 * Error constructor call; ServingError's constructor restores it.
 */
let savedStackTraceLimit = Error.stackTraceLimit;
function withoutStackUnlessInternal(kind: ErrorKind, message: string): string {
  savedStackTraceLimit = Error.stackTraceLimit;
  if (kind !== "internal") Error.stackTraceLimit = 0;
  return message;
}

/** Longest piece of client input quoted back in an error message, in characters. */
export const MAX_ECHO_CHARS = 64;

/**
 * A client-supplied value made safe to quote in an error: at most MAX_ECHO_CHARS characters
 * (longer values are cut and their length given), control characters escaped. Error messages
 * travel in HTTP/2 trailers, and an unbounded echo can push them past a client's metadata
 * limit (gRPC C-core's is 8 KiB), which then fails other calls on the same connection.
 */
export function echo(value: unknown): string {
  const s = typeof value === "string" ? value : String(value);
  const escaped = (t: string) => JSON.stringify(t).slice(1, -1);
  if (s.length <= MAX_ECHO_CHARS) return `'${escaped(s)}'`;
  return `'${escaped(s.slice(0, MAX_ECHO_CHARS))}...' (${s.length} characters)`;
}

/**
 * INVALID_ARGUMENT naming the field and the expected value. Quote client strings in `got` with
 * echo(); as a safety net, `got` is cut past MAX_GOT_CHARS.
 */
export const invalidArgument = (field: string, expected: string, got?: string): ServingError =>
  new ServingError("invalid_argument", `${field}: expected ${expected}${got === undefined ? "" : `, got ${cut(got)}`}`);

/** Longest `got` of invalidArgument: an echo() of MAX_ECHO_CHARS and its length note fit. */
const MAX_GOT_CHARS = 160;

function cut(s: string): string {
  return s.length <= MAX_GOT_CHARS ? s : `${s.slice(0, MAX_GOT_CHARS)}... (${s.length} characters)`;
}

/**
 * The one member of a proto3 oneof that is set, or undefined. Decoders keep every member
 * that was on the wire, so a message carrying two would otherwise be read by declaration
 * order, silently; it is refused instead.
 */
export function oneofMember<M extends string>(msg: Partial<Record<M, unknown>>, members: readonly M[], field: string): M | undefined {
  const set = members.filter((m) => msg[m] !== undefined && msg[m] !== null);
  if (set.length > 1) throw invalidArgument(field, `exactly one of ${members.join(", ")} (a oneof)`, `${set.join(" and ")} both set`);
  return set[0];
}
