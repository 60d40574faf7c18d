/** What a request handler gets besides its request, whatever protocol it came by. */
export interface CallContext {
  /** Aborted when the client cancels the call (a gRPC cancel, a stream's end, an HTTP client that disconnects). */
  signal: AbortSignal;
  /** The call's deadline: epoch milliseconds, or Infinity when it has none. */
  deadlineMs: number;
  /** The tenant the call comes from, "" when none is named. */
  tenant: string;
}
