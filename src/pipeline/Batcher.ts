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
  /**
   * An item's place in line: lower ranks (higher priority levels) are queued ahead of higher
   * ones, FIFO within a rank, and a batch takes the first maxBatchSize in line, so it mixes
   * ranks only to fill up. Default: every item rank 0 (one FIFO queue).
   */
  rank?: (item: T) => number;
  /** A group an item counts in (e.g. its tenant), for depthOfGroup; undefined: none. */
  group?: (item: T) => string | undefined;
  clock: Clock;
}

interface Entry<T> {
  item: T;
  enqueuedAtMs: number;
  rank: number;
  group: string | undefined;
}

/** Counts by key; a key whose count drops to 0 is forgotten. */
class Tally<K> {
  private readonly counts = new Map<K, number>();
  add(key: K, delta: number): void {
    const n = (this.counts.get(key) ?? 0) + delta;
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }
  get(key: K): number {
    return this.counts.get(key) ?? 0;
  }
  entries(): IterableIterator<[K, number]> {
    return this.counts.entries();
  }
}

/**
 * Dynamic batcher: a batch runs when maxBatchSize items wait, when the first in line has waited
 * maxQueueDelayMs, or at once when the runner has an idle worker (runnerIdle). Up to
 * maxInflightBatches batches run at once (default one); items arriving meanwhile form the next
 * batch. Items wait in rank order (see `rank`).
 */
export class Batcher<T> {
  private queue: Entry<T>[] = [];
  private running = 0;
  private timer: unknown = undefined;
  private idleWaiters: (() => void)[] = [];
  /** Queued items by rank, and by group. */
  private readonly ranks = new Tally<number>();
  private readonly groups = new Tally<string>();

  constructor(private readonly opts: BatcherOptions<T>) {
    if (opts.maxBatchSize < 1) throw new RangeError("maxBatchSize must be >= 1");
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Items queued at `rank` or ahead of it (lower ranks). */
  depthUpTo(rank: number): number {
    let n = 0;
    for (const [r, count] of this.ranks.entries()) if (r <= rank) n += count;
    return n;
  }

  /** Items queued at exactly `rank`. */
  depthAt(rank: number): number {
    return this.ranks.get(rank);
  }

  /** Items queued in `group`. */
  depthOfGroup(group: string): number {
    return this.groups.get(group);
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
    for (const item of items) {
      const e = { item, enqueuedAtMs: now, rank: this.opts.rank?.(item) ?? 0, group: this.opts.group?.(item) };
      let at = this.queue.length;
      while (at > 0 && this.queue[at - 1]!.rank > e.rank) at--;
      if (at === this.queue.length) this.queue.push(e);
      else this.queue.splice(at, 0, e);
      this.count(e, 1);
    }
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
    this.count(this.queue[i]!, -1);
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
    const taken = this.queue.splice(0, this.opts.maxBatchSize);
    for (const e of taken) this.count(e, -1);
    const batch = taken.map((e) => e.item);
    this.running++;
    const done = () => {
      this.running--;
      this.schedule();
    };
    this.opts.run(batch).then(done, done);
    this.schedule(); // another slot may be free for what is still waiting
  }

  private count(e: Entry<T>, delta: number): void {
    this.ranks.add(e.rank, delta);
    if (e.group !== undefined) this.groups.add(e.group, delta);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.opts.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }
}
