/** Weight of the newest batch in the moving average of batch run times. */
const BATCH_TIME_ALPHA = 0.2;

/**
 * The first stage's batch time (dispatch to answer, a moving average) and the wait it implies
 * for a request admitted now: 0 when nothing waits (then there is nothing to refuse for, and a
 * stale slow batch time cannot lock admission or keep load-adaptive mode down); otherwise the
 * first stage runs one batch at a time, so the queue and the request's own batch drain one
 * batch per first-stage batch time. The moving average, not the latest batch: one slow batch,
 * e.g. while a reload warms up beside it, must not refuse a lightly loaded server. Later stages
 * are not counted: the engine runs them first, so once through the first stage a request is not
 * kept waiting behind new ones.
 */
export class AdmissionEstimate {
  private batchMs: number | undefined;

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
    this.batchMs = this.batchMs === undefined ? ms : this.batchMs + (ms - this.batchMs) * BATCH_TIME_ALPHA;
  }

  /** Estimated wait of a new request behind `queueDepth` waiting ones, in ms. */
  waitMs(queueDepth: number): number {
    if (queueDepth === 0) return 0;
    return (Math.ceil((queueDepth + 1) / this.maxBatchSize) * (this.batchMs ?? 0)) / this.parallelBatches;
  }
}
