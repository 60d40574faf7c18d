/** Weight of the newest observation in the moving averages. */
const ALPHA = 0.2;

/**
 * How long a request admitted now into an entry queue would wait for its first answer, from two
 * measurements of that queue, the larger of:
 *
 * - its batch time (dispatch to answer, a moving average): the queue and the request's own batch
 *   drain `parallelBatches` batches per batch time. What the engine promises.
 * - its drain rate while backlogged (the time between two dispatches of the queue, when the
 *   earlier one left requests waiting, so the queue waited on the server all that time, per
 *   request dispatched), for the queue ahead of the request, then its own batch time. What the
 *   server delivers: it also counts the main thread's time per batch
 *   (gathering, posting, answering, reading and refusing new requests), which batch times miss;
 *   on a saturated main thread admitted requests waited 3-4x the batch-time estimate.
 *
 * 0 when nothing waits (then there is nothing to refuse for, and a stale slow measurement cannot
 * lock admission or keep load-adaptive mode down). Moving averages, not the latest batch: one slow
 * batch, e.g. while a reload warms up beside it, must not refuse a lightly loaded server. Later
 * stages are not counted: the engine runs them first, so once through the first stage a request
 * is not kept waiting behind new ones.
 */
export class AdmissionEstimate {
  private batchMs: number | undefined;
  /** Moving averages of the backlogged dispatch interval and of the requests it dispatched. */
  private drainIntervalMs: number | undefined;
  private drainRequests = 0;
  private lastDispatch: { atMs: number; leftWaiting: number } | undefined;

  constructor(
    private readonly maxBatchSize: number,
    /**
     * Batches of the queue in the engine at once (its batch slots). A batch's time runs from
     * hand-over to answer, so it includes waiting behind a batch the worker already holds:
     * N batches in flight of time T each drain N batches per T.
     */
    private readonly parallelBatches = 1,
  ) {}

  recordBatch(ms: number): void {
    this.batchMs = this.batchMs === undefined ? ms : this.batchMs + (ms - this.batchMs) * ALPHA;
  }

  /** The queue handed `requests` to the engine at `atMs`, leaving `leftWaiting` behind. */
  recordDispatch(atMs: number, requests: number, leftWaiting: number): void {
    const last = this.lastDispatch;
    if (last && last.leftWaiting > 0) {
      const intervalMs = atMs - last.atMs;
      if (this.drainIntervalMs === undefined) {
        this.drainIntervalMs = intervalMs;
        this.drainRequests = requests;
      } else {
        this.drainIntervalMs += (intervalMs - this.drainIntervalMs) * ALPHA;
        this.drainRequests += (requests - this.drainRequests) * ALPHA;
      }
    }
    this.lastDispatch = { atMs, leftWaiting };
  }

  /** Estimated wait of a new request behind `queueDepth` waiting ones, in ms. */
  waitMs(queueDepth: number): number {
    if (queueDepth === 0) return 0;
    const byBatchTime = (Math.ceil((queueDepth + 1) / this.maxBatchSize) * (this.batchMs ?? 0)) / this.parallelBatches;
    // dispatched after the queue ahead of it drains, then answered one batch time later
    const byDrain =
      this.drainIntervalMs !== undefined && this.drainRequests > 0 ? ((queueDepth + 1) * this.drainIntervalMs) / this.drainRequests + (this.batchMs ?? 0) : 0;
    return Math.max(byBatchTime, byDrain);
  }
}
