/**
 * Where new requests enter: after the engine's answers. One event loop reads requests and the
 * engine workers' answers alike, both in its poll phase; a request started there (admitted,
 * batched, handed to a worker) delays the answers read after it, and with them the next batch of
 * every worker. Requests that start here instead wait for the poll phase to end, so each turn of
 * the loop first settles what is already in the engine (the workers get their next batches), then
 * takes in what arrived. Under a 2x unary flood priority level 1's p99 is 128-158 ms against
 * 213-313 ms with calls started at once (docs/api.md, Priority levels); it costs one setImmediate
 * per turn, not per request, and some batch size at saturation (docs/architecture.md).
 */
let turn: Promise<void> | undefined;

/** Resolves in this turn's check phase (setImmediate), once the I/O read in this turn is handled; every caller of a turn shares one promise. */
export function afterIo(): Promise<void> {
  if (!turn) {
    turn = new Promise((resolve) =>
      setImmediate(() => {
        turn = undefined;
        resolve();
      }),
    );
  }
  return turn;
}
