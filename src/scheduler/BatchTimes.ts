/** Weight of the newest run in a queue's mean run time per item. */
const EWMA_WEIGHT = 0.2;

/**
 * How long before a worker's held batches are due to end a further batch leaves for it: the
 * hand-off (gathering, posting, the worker taking the message) and the error of the estimate.
 * The larger of a floor and a share of the time left: a late estimate leaves the worker idle
 * until the main thread sees its answer, an early one sends a smaller batch (as without it).
 */
export const HANDOFF_MIN_MS = 1;
export const HANDOFF_SHARE = 0.25;

/** A batch a worker holds, as BatchTimes sees it: the queue it came from (keys its run times) and its items. */
export interface TimedBatch {
  queue: object;
  items: readonly unknown[];
}

/**
 * When each engine worker's held batches are due to end, from the run times the queues' batches
 * took: a worker runs what it holds one at a time, in order, so a batch that became a worker's
 * first (it held nothing, or the one before finished) started then, and its run time is from
 * then to its finish. The Scheduler opens a busy worker's further slot only near that end: no
 * batch could start sooner, what arrives meanwhile joins it, and the deepest stage goes first.
 */
export class BatchTimes {
  /** Per worker: when its first held batch started (NaN: it holds none). */
  private readonly startedAtMs: number[];
  /** Per queue: the mean run time of its batches per item, ms. */
  private readonly msPerItem = new WeakMap<object, number>();

  constructor(workers: number) {
    this.startedAtMs = Array.from({ length: workers }, () => Number.NaN);
  }

  /** Worker `worker`, which held nothing, starts a batch at `nowMs`. */
  started(worker: number, nowMs: number): void {
    this.startedAtMs[worker] = nowMs;
  }

  /** The first batch of worker `worker` finished at `nowMs`; the next one it holds (if `more`) starts then. */
  finished(worker: number, batch: TimedBatch, nowMs: number, more: boolean): void {
    const started = this.startedAtMs[worker]!;
    if (Number.isFinite(started) && batch.items.length > 0) {
      const perItem = Math.max(0, nowMs - started) / batch.items.length;
      const mean = this.msPerItem.get(batch.queue);
      this.msPerItem.set(batch.queue, mean === undefined ? perItem : mean + EWMA_WEIGHT * (perItem - mean));
    }
    this.startedAtMs[worker] = more ? nowMs : Number.NaN;
  }

  /** When a further batch for `worker` should leave (its `held` batches' estimated end, less the hand-off); -Infinity when not known. */
  slotOpensAtMs(worker: number, held: readonly { batch: TimedBatch }[]): number {
    const started = this.startedAtMs[worker]!;
    if (held.length === 0 || !Number.isFinite(started)) return Number.NEGATIVE_INFINITY;
    let ms = 0;
    for (const { batch } of held) {
      const perItem = this.msPerItem.get(batch.queue);
      if (perItem === undefined) return Number.NEGATIVE_INFINITY;
      ms += perItem * batch.items.length;
    }
    return started + ms - Math.max(HANDOFF_MIN_MS, HANDOFF_SHARE * ms);
  }
}
