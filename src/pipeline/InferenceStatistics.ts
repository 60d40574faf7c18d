/** A cumulative count and duration, as Triton reports them. */
export interface Duration {
  count: number;
  ns: number;
}

export interface StatisticsSnapshot {
  /** Epoch milliseconds of the last request (0 = none yet). */
  lastInferenceMs: number;
  /** Samples answered (a ModelInfer request with N inputs counts N). */
  inferenceCount: number;
  /** First-stage batches run (every request passes the first stage once). */
  executionCount: number;
  success: Duration;
  fail: Duration;
  /** Per request: the longest time one of its samples waited in stage queues. */
  queue: Duration;
  /** Per request: the longest time one of its samples spent in stage runs. */
  computeInfer: Duration;
  /** First-stage batches by size: count and run time. */
  batches: Map<number, Duration>;
}

/**
 * Cumulative request statistics of one served model version, for Triton's ModelStatistics:
 * every inference request (Classify, ClassifyStream items, ModelInfer) counts once.
 */
export class InferenceStatistics {
  private lastInferenceMs = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success: Duration = { count: 0, ns: 0 };
  private readonly fail: Duration = { count: 0, ns: 0 };
  private readonly queue: Duration = { count: 0, ns: 0 };
  private readonly computeInfer: Duration = { count: 0, ns: 0 };
  private readonly batches = new Map<number, Duration>();

  /** `nowEpochMs` stamps last_inference (Date.now in production). */
  constructor(private readonly nowEpochMs: () => number = Date.now) {}

  succeeded(durationMs: number, samples: number, queueMs: number, computeMs: number): void {
    this.lastInferenceMs = this.nowEpochMs();
    this.inferenceCount += samples;
    add(this.success, durationMs);
    add(this.queue, queueMs);
    add(this.computeInfer, computeMs);
  }

  failed(durationMs: number): void {
    this.lastInferenceMs = this.nowEpochMs();
    add(this.fail, durationMs);
  }

  /** A first-stage batch of `size` ran for `seconds`. */
  batchRan(size: number, seconds: number): void {
    this.executionCount++;
    let d = this.batches.get(size);
    if (!d) {
      d = { count: 0, ns: 0 };
      this.batches.set(size, d);
    }
    add(d, seconds * 1000);
  }

  snapshot(): StatisticsSnapshot {
    const copy = (d: Duration): Duration => ({ ...d });
    return {
      lastInferenceMs: this.lastInferenceMs,
      inferenceCount: this.inferenceCount,
      executionCount: this.executionCount,
      success: copy(this.success),
      fail: copy(this.fail),
      queue: copy(this.queue),
      computeInfer: copy(this.computeInfer),
      batches: new Map([...this.batches].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, copy(v)])),
    };
  }
}

function add(d: Duration, ms: number): void {
  d.count++;
  d.ns += Math.max(0, Math.round(ms * 1e6));
}
