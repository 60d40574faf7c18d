import type { Clock } from "../core/Clock.js";

export interface BatcherOptions<T> {
  maxBatchSize: number;
  /** How long the oldest queued item may wait for the batch to fill. */
  maxQueueDelayMs: number;
  /** Capacity for offer(); enqueue() of already-admitted work ignores it. */
  maxQueueSize: number;
  /** Runs one batch; must settle (the batcher counts it in flight until then). */
  run: (batch: T[]) => Promise<void>;
  /**
   * Batches of this batcher handed over and not yet settled (default 1): with an engine, its
   * batch slots, so one stage's batches can fill every worker (one running and one waiting in
   * each); a further batch forms while they run.
   */
  maxInflightBatches?: number;
  /**
   * Whether a batch handed over now would start at once (the engine has a worker with nothing
   * to do). Then what waits runs now instead of waiting for a fuller batch: batching never keeps
   * a worker idle (work-conserving), and it only waits while every worker is busy.
   */
  runnerIdle?: () => boolean;
  clock: Clock;
}

interface Entry<T> {
  item: T;
  enqueuedAtMs: number;
}

/**
 * Dynamic batcher: a batch runs when maxBatchSize items wait, when the oldest has waited
 * maxQueueDelayMs, or at once when the runner has an idle worker (runnerIdle). Up to
 * maxInflightBatches batches run at once (default one); items arriving meanwhile form the next
 * batch.
 */
export class Batcher<T> {
  private queue: Entry<T>[] = [];
  private running = 0;
  private timer: unknown = undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatcherOptions<T>) {
    if (opts.maxBatchSize < 1) throw new RangeError("maxBatchSize must be >= 1");
  }

  get depth(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running > 0;
  }

  /** Admission: false (and nothing queued) when the queue is full. */
  offer(item: T): boolean {
    if (this.queue.length >= this.opts.maxQueueSize) return false;
    this.enqueue(item);
    return true;
  }

  /** Queues already-admitted work unconditionally. */
  enqueue(item: T): void {
    this.enqueueAll([item]);
  }

  /** Queues already-admitted items together: an idle runner gets them as one batch, not the first alone. */
  enqueueAll(items: readonly T[]): void {
    if (items.length === 0) return;
    const now = this.opts.clock.now();
    for (const item of items) this.queue.push({ item, enqueuedAtMs: now });
    this.schedule();
  }

  /** Runs what waits if the runner has become idle (see runnerIdle); the owner calls it when a worker frees up. */
  poke(): void {
    this.schedule();
  }

  /** Takes a waiting item out of the queue; false if it is not waiting (running or gone). */
  remove(item: T): boolean {
    const i = this.queue.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    if (this.queue.length === 0) this.clearTimer();
    return true;
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running >= (this.opts.maxInflightBatches ?? 1)) return;
    const oldest = this.queue[0];
    if (!oldest) {
      this.clearTimer();
      if (this.running > 0) return;
      const waiters = this.idleWaiters.splice(0);
      waiters.forEach((w) => {
        w();
      });
      return;
    }
    const waitedMs = this.opts.clock.now() - oldest.enqueuedAtMs;
    if (this.queue.length >= this.opts.maxBatchSize || waitedMs >= this.opts.maxQueueDelayMs || this.opts.runnerIdle?.()) {
      this.dispatch();
    } else if (this.timer === undefined) {
      this.timer = this.opts.clock.setTimer(() => {
        this.timer = undefined;
        this.schedule();
      }, this.opts.maxQueueDelayMs - waitedMs);
    }
  }

  private dispatch(): void {
    this.clearTimer();
    const batch = this.queue.splice(0, this.opts.maxBatchSize).map((e) => e.item);
    this.running++;
    const done = () => {
      this.running--;
      this.schedule();
    };
    this.opts.run(batch).then(done, done);
    this.schedule(); // another slot may be free for what is still waiting
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.opts.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }
}
