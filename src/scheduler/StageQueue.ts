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
  /**
   * Preemption between batches (see Scheduler): while a higher priority level is active in the
   * model, items of lower levels join a batch only while it holds fewer than this, so the batches
   * a higher level's request may wait behind stay short. 0 or undefined = no limit.
   */
  yieldBatchSize?: number;
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

/** One priority level's line, as Triton's PolicyQueue: the waiting items, then those its queue timeout delayed. */
interface Level<T> {
  rank: number;
  waiting: Entry<T>[];
  delayed: Entry<T>[];
  /** When an item of this level last joined the queue. */
  lastAddedAtMs: number;
}

/** Where the first in line stands: its rank, and whether its queue timeout delayed it (behind every item not delayed). */
export interface QueueHead {
  rank: number;
  delayed: boolean;
}

/**
 * The items waiting for one program (a stage, or a fused graph) of one model: one line per
 * priority level (rank), FIFO within it, and behind every level's waiting items the items their
 * level's queue timeout delayed (by rank, FIFO within it); with counts by rank and group for
 * admission. The Scheduler owns every queue and decides when a batch leaves one (take).
 */
export class StageQueue<T> {
  /** Ascending rank (a few levels: priority levels, or just 0). */
  private readonly levels: Level<T>[] = [];
  private size = 0;
  private readonly groups = new Tally<string>();

  constructor(readonly spec: QueueSpec<T>) {
    if (spec.maxBatchSize < 1) throw new RangeError("maxBatchSize must be >= 1");
  }

  get depth(): number {
    return this.size;
  }

  /** Items waiting (not delayed) at `rank` or ahead of it (lower ranks). */
  depthUpTo(rank: number): number {
    let n = 0;
    for (const l of this.levels) if (l.rank <= rank) n += l.waiting.length;
    return n;
  }

  /** Items waiting (not delayed) at exactly `rank`. */
  depthAt(rank: number): number {
    return this.level(rank, false)?.waiting.length ?? 0;
  }

  /** Items queued in `group`. */
  depthOfGroup(group: string): number {
    return this.groups.get(group);
  }

  /** The first in line's rank and whether it was delayed; undefined when empty. */
  get head(): QueueHead | undefined {
    const e = this.first();
    return e && { rank: e.rank, delayed: e.delayed };
  }

  /** When the first in line joined (undefined when empty). */
  get headEnqueuedAtMs(): number | undefined {
    return this.first()?.entry.enqueuedAtMs;
  }

  /**
   * Whether a batch may leave now: any to an idle worker; to a busy worker's slot, once it is open
   * (`slotOpensAtMs`: as the worker's held batches are due to end, see BatchTimes), a full one or
   * one whose first in line has waited maxQueueDelayMs.
   */
  ready(nowMs: number, idleWorker: boolean, slotOpensAtMs = Number.NEGATIVE_INFINITY): boolean {
    const at = this.readyAtMs(slotOpensAtMs);
    return at !== undefined && ((idleWorker && this.spec.dispatchWhenIdle) || nowMs >= at);
  }

  /** When a batch may leave for a slot that opens at `slotOpensAtMs`: at its opening, once full or its first in line has waited maxQueueDelayMs; undefined when empty. */
  readyAtMs(slotOpensAtMs: number): number | undefined {
    const head = this.first();
    if (!head) return undefined;
    return Math.max(slotOpensAtMs, this.size >= this.spec.maxBatchSize ? Number.NEGATIVE_INFINITY : head.entry.enqueuedAtMs + this.spec.maxQueueDelayMs);
  }

  add(items: readonly T[], nowMs: number): void {
    for (const item of items) {
      const e = { item, enqueuedAtMs: nowMs, rank: this.spec.rank?.(item) ?? 0, group: this.spec.group?.(item) };
      const l = this.level(e.rank, true)!;
      l.waiting.push(e);
      l.lastAddedAtMs = nowMs;
      this.count(e, 1);
    }
  }

  /** The lowest rank (highest priority level) with an item queued, or one that joined at or after `sinceMs`; undefined: none. */
  activeRank(sinceMs: number): number | undefined {
    for (const l of this.levels) if (l.waiting.length > 0 || l.delayed.length > 0 || l.lastAddedAtMs >= sinceMs) return l.rank;
    return undefined;
  }

  /** Moves a waiting item behind every item not delayed (its queue timeout passed, action delay); false if it is not waiting. */
  delay(item: T, nowMs: number): boolean {
    const l = this.level(this.spec.rank?.(item) ?? 0, false);
    const i = l ? l.waiting.findIndex((e) => e.item === item) : -1;
    if (!l || i < 0) return false;
    const [e] = l.waiting.splice(i, 1);
    l.delayed.push({ ...e!, enqueuedAtMs: nowMs });
    return true;
  }

  /** Takes a queued item out (waiting or delayed); false if it is not queued. */
  remove(item: T): boolean {
    const l = this.level(this.spec.rank?.(item) ?? 0, false);
    if (!l) return false;
    for (const line of [l.waiting, l.delayed]) {
      const i = line.findIndex((e) => e.item === item);
      if (i < 0) continue;
      this.count(line[i]!, -1);
      line.splice(i, 1);
      return true;
    }
    return false;
  }

  /**
   * Takes the first `n` in line (a batch): every level's waiting items by rank, then the delayed
   * ones by rank; items ranked after `yieldTo` (a higher level is active) only while the batch
   * holds fewer than yieldBatchSize.
   */
  take(n: number, yieldTo = Number.POSITIVE_INFINITY): T[] {
    const taken: T[] = [];
    const lowerCap = this.spec.yieldBatchSize || n;
    for (const which of ["waiting", "delayed"] as const) {
      for (const l of this.levels) {
        const cap = l.rank > yieldTo ? Math.min(n, lowerCap) : n;
        if (taken.length >= cap) continue;
        const line = l[which];
        const out = line.splice(0, cap - taken.length);
        for (const e of out) {
          this.count(e, -1);
          taken.push(e.item);
        }
      }
    }
    return taken;
  }

  /** The first in line, with whether it is a delayed one. */
  private first(): { entry: Entry<T>; rank: number; delayed: boolean } | undefined {
    for (const l of this.levels) if (l.waiting.length) return { entry: l.waiting[0]!, rank: l.rank, delayed: false };
    for (const l of this.levels) if (l.delayed.length) return { entry: l.delayed[0]!, rank: l.rank, delayed: true };
    return undefined;
  }

  private level(rank: number, create: boolean): Level<T> | undefined {
    let i = 0;
    while (i < this.levels.length && this.levels[i]!.rank < rank) i++;
    if (this.levels[i]?.rank === rank) return this.levels[i];
    if (!create) return undefined;
    const l: Level<T> = { rank, waiting: [], delayed: [], lastAddedAtMs: Number.NEGATIVE_INFINITY };
    this.levels.splice(i, 0, l);
    return l;
  }

  private count(e: Entry<T>, delta: number): void {
    this.size += delta;
    if (e.group !== undefined) this.groups.add(e.group, delta);
  }
}
