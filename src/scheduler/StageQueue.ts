/** What a queue is and how its batches run, given to Scheduler.addQueue. */
export interface QueueSpec<T> {
  /** The model (version) whose batches these are: fairness between models counts batches per model. */
  model: string;
  /** Its order among the model's queues: higher runs first (the deeper stage; the fused graph deepest). */
  depthOrder: number;
  /** The one engine worker its batches may run on (the one holding its items' kept tensors); undefined: any. */
  worker?: number;
  maxBatchSize: number;
  /** How long the first in line may wait for its batch to fill while no worker is idle. */
  maxQueueDelayMs: number;
  /** An idle worker takes what waits at once, full batch or not (work-conserving batching). */
  dispatchWhenIdle: boolean;
  /** An item's place in line: lower ranks (higher priority levels) first, FIFO within a rank. Default: all 0. */
  rank?: (item: T) => number;
  /** A group an item counts in (e.g. its tenant), for depthOfGroup; undefined: none. */
  group?: (item: T) => string | undefined;
  /** Runs a planned batch on engine worker `worker`; must settle (the slot stays taken until then). */
  run: (batch: T[], worker: number) => Promise<void>;
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
 * The items waiting for one program (a stage, or a fused graph) of one model, in rank order
 * (FIFO within a rank), with counts by rank and group for admission. The Scheduler owns every
 * queue and decides when a batch leaves one (take).
 */
export class StageQueue<T> {
  private entries: Entry<T>[] = [];
  private readonly ranks = new Tally<number>();
  private readonly groups = new Tally<string>();

  constructor(readonly spec: QueueSpec<T>) {
    if (spec.maxBatchSize < 1) throw new RangeError("maxBatchSize must be >= 1");
  }

  get depth(): number {
    return this.entries.length;
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

  /** The rank of the first in line (Infinity when empty). */
  get headRank(): number {
    return this.entries[0]?.rank ?? Number.POSITIVE_INFINITY;
  }

  /** When the first in line joined (undefined when empty). */
  get headEnqueuedAtMs(): number | undefined {
    return this.entries[0]?.enqueuedAtMs;
  }

  /** Whether a batch may leave now: a full one, one whose first in line has waited maxQueueDelayMs, or any to an idle worker. */
  ready(nowMs: number, idleWorker: boolean): boolean {
    const head = this.entries[0];
    if (!head) return false;
    return (
      (idleWorker && this.spec.dispatchWhenIdle) || this.entries.length >= this.spec.maxBatchSize || nowMs - head.enqueuedAtMs >= this.spec.maxQueueDelayMs
    );
  }

  add(items: readonly T[], nowMs: number): void {
    for (const item of items) {
      const e = { item, enqueuedAtMs: nowMs, rank: this.spec.rank?.(item) ?? 0, group: this.spec.group?.(item) };
      let at = this.entries.length;
      while (at > 0 && this.entries[at - 1]!.rank > e.rank) at--;
      if (at === this.entries.length) this.entries.push(e);
      else this.entries.splice(at, 0, e);
      this.count(e, 1);
    }
  }

  /** Takes a waiting item out; false if it is not waiting. */
  remove(item: T): boolean {
    const i = this.entries.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.count(this.entries[i]!, -1);
    this.entries.splice(i, 1);
    return true;
  }

  /** Takes the first `n` in line (a batch). */
  take(n: number): T[] {
    const taken = this.entries.splice(0, n);
    for (const e of taken) this.count(e, -1);
    return taken.map((e) => e.item);
  }

  private count(e: Entry<T>, delta: number): void {
    this.ranks.add(e.rank, delta);
    if (e.group !== undefined) this.groups.add(e.group, delta);
  }
}
