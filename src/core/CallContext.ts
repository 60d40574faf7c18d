import type { Cancellation } from "./Cancellation.js";

/** What a request handler gets besides its request, whatever protocol it came by. */
export interface CallContext {
  /** Cancelled when the client cancels the call (a gRPC cancel, a cancelled stream, an HTTP client that disconnects). */
  cancellation: Cancellation;
  /** The call's deadline: epoch milliseconds, or Infinity when it has none. */
  deadlineMs: number;
  /** The tenant the call comes from, "" when none is named. */
  tenant: string;
}
