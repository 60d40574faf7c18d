import { ServingError } from "../core/errors.js";
import { LEVEL_ACTIVE_MS } from "../scheduler/Scheduler.js";
import { AdmissionEstimate } from "./AdmissionEstimate.js";

export interface EntryAdmissionOptions {
  maxBatchSize: number;
  /** Batches of one queue that run side by side (one per engine worker). */
  parallelBatches: number;
  /** Requests that may wait in an entry queue. */
  maxQueueSize: number;
  /** Requests of each priority level (index level - 1) that may wait in an entry queue; empty: no bound per level. */
  maxQueueSizeByLevel?: readonly number[];
  /** Longest estimated wait a request is admitted into, in ms (0 = no limit). */
  maxQueueWaitMs: number;
  /** Lower priority levels yield the main thread to higher ones (config priorityYieldUtilization); undefined: never. */
  yieldToHigherLevels?: YieldToHigherLevels;
}

/**
 * While the event loop is busier than `maxUtilization` and a request of a higher level arrived
 * within the last HIGHER_LEVEL_RECENT_MS, a request of a lower level is refused: the main thread,
 * which reads and answers every request of every level in arrival order, keeps headroom for the
 * higher levels (priority in the queues alone orders only the engine's work).
 */
export interface YieldToHigherLevels {
  maxUtilization: number;
  /** The event loop's busy share over its last window (EventLoopLoad). */
  utilization: () => number;
  nowMs: () => number;
}

/** How recently a higher level must have arrived for a lower one to yield to it: as long as the scheduler counts a level active. */
export const HIGHER_LEVEL_RECENT_MS = LEVEL_ACTIVE_MS;

/** What admission reads of an entry queue. */
export interface EntryQueue {
  readonly depth: number;
  /** Requests waiting at priority level `rank` or ahead of it (0 = priorities off: all of them). */
  depthUpTo(rank: number): number;
  depthAt(rank: number): number;
  /** Requests of a tenant waiting in it. */
  depthOfGroup(tenant: string): number;
}

/**
 * Admission to the pipeline's entry queues (stage 1, and the fused graph when the model has one):
 * a request is refused when its queue is full (or its priority level's share of it), or when the
 * wait it would have there (estimated from that queue's batch times and drain rate,
 * AdmissionEstimate, behind the requests of its level and the levels above it) exceeds
 * maxQueueWaitMs, so under overload the refusals fall on the lower levels. Later stages admit
 * nothing: they take what the stages before them send on.
 */
export class EntryAdmission {
  private readonly estimates = new Map<number, AdmissionEstimate>();
  /** When a request of each priority level last asked for admission (with yieldToHigherLevels). */
  private readonly arrivedAtMs: number[] = [];

  constructor(
    entries: readonly number[],
    private readonly opts: EntryAdmissionOptions,
    private readonly queue: (entry: number) => EntryQueue,
    /** How error messages name an entry queue ("stage 1", "the fused path's"). */
    private readonly nameOf: (entry: number) => string,
  ) {
    for (const k of entries) this.estimates.set(k, new AdmissionEstimate(opts.maxBatchSize, opts.parallelBatches));
  }

  isEntry(k: number): boolean {
    return this.estimates.has(k);
  }

  /** A batch of entry queue `k` ran in `ms` (dispatch to answer). */
  recordBatch(k: number, ms: number): void {
    this.estimates.get(k)?.recordBatch(ms);
  }

  /** Entry queue `k` handed `requests` to the engine at `atMs`, leaving `leftWaiting` behind. */
  recordDispatch(k: number, atMs: number, requests: number, leftWaiting: number): void {
    this.estimates.get(k)?.recordDispatch(atMs, requests, leftWaiting);
  }

  /**
   * How long a request of priority `rank` admitted now into `entry` would wait for its first
   * answer (behind its level and the levels above; rank 0: behind the whole queue); without
   * `entry`, the longest over the entry queues.
   */
  waitMs(entry?: number, rank = 0): number {
    if (entry !== undefined) return this.waitAt(entry, rank);
    let longest = Number.NEGATIVE_INFINITY;
    for (const k of this.estimates.keys()) longest = Math.max(longest, this.waitAt(k, rank));
    return longest;
  }

  private waitAt(entry: number, rank: number): number {
    const q = this.queue(entry);
    return this.estimates.get(entry)!.waitMs(rank > 0 ? q.depthUpTo(rank) : q.depth);
  }

  /**
   * Why a request for `entry` would be refused now (resource_exhausted), or undefined: by its
   * priority level's wait and share, its tenant's share of maxQueueSize (tenantQueueShare), and
   * (yieldToHigherLevels) the event loop's load while higher levels arrive. Notes the arrival of
   * the request's level.
   */
  refusal(entry: number, req: { priority?: number; tenant?: string; tenantQueueShare?: number } = {}): ServingError | undefined {
    const q = this.queue(entry);
    const rank = req.priority ?? 0;
    if (req.tenant !== undefined && req.tenantQueueShare) {
      const limit = Math.max(1, Math.floor(req.tenantQueueShare * this.opts.maxQueueSize));
      let waiting = 0;
      for (const k of this.estimates.keys()) waiting += this.queue(k).depthOfGroup(req.tenant);
      if (waiting >= limit) {
        return new ServingError(
          "resource_exhausted",
          `tenant '${req.tenant}' already has ${limit} requests waiting (its maxQueueShare ${req.tenantQueueShare} of ${this.opts.maxQueueSize}); retry with backoff`,
        );
      }
    }
    const level = rank > 0 ? ` at priority level ${rank}` : "";
    const yielding = this.yielding(rank);
    if (yielding) return yielding;
    if (this.opts.maxQueueWaitMs > 0) {
      const waitMs = this.waitMs(entry, rank);
      if (waitMs > this.opts.maxQueueWaitMs) {
        return new ServingError(
          "resource_exhausted",
          `overloaded: ${this.nameOf(entry)} queue would delay this request${level} about ${Math.round(waitMs)} ms (limit maxQueueWaitMs ${this.opts.maxQueueWaitMs} ms); retry with backoff`,
        );
      }
    }
    const levelSize = rank > 0 ? this.opts.maxQueueSizeByLevel?.[rank - 1] : undefined;
    if (levelSize !== undefined && q.depthAt(rank) >= levelSize) {
      return new ServingError(
        "resource_exhausted",
        `${this.nameOf(entry)} queue is full for priority level ${rank} (${levelSize} waiting requests); retry with backoff`,
      );
    }
    if (q.depth >= this.opts.maxQueueSize) return this.full(entry);
    return undefined;
  }

  private yielding(rank: number): ServingError | undefined {
    const y = this.opts.yieldToHigherLevels;
    if (!y || rank < 1) return undefined;
    const now = y.nowMs();
    this.arrivedAtMs[rank] = now;
    if (rank === 1) return undefined;
    const utilization = y.utilization();
    if (utilization <= y.maxUtilization) return undefined;
    for (let higher = 1; higher < rank; higher++) {
      const at = this.arrivedAtMs[higher];
      if (at !== undefined && now - at <= HIGHER_LEVEL_RECENT_MS) {
        return new ServingError(
          "resource_exhausted",
          `overloaded: the server's event loop is ${Math.round(100 * utilization)}% busy (priorityYieldUtilization ${y.maxUtilization}) while requests of priority level ${higher} arrive; level ${rank} yields to them; retry with backoff`,
        );
      }
    }
    return undefined;
  }

  /** The refusal for a full queue. */
  full(entry: number): ServingError {
    return new ServingError("resource_exhausted", `${this.nameOf(entry)} queue is full (${this.opts.maxQueueSize} waiting requests); retry with backoff`);
  }
}
