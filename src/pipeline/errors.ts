/** Domain errors of the serving pipeline; the gRPC layer maps them to status codes in one place. */
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
    super(message);
  }
}

export const invalidArgument = (field: string, expected: string, got?: string): ServingError =>
  new ServingError("invalid_argument", `${field}: expected ${expected}${got === undefined ? "" : `, got ${got}`}`);
