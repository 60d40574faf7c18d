import { ServingError } from "../core/errors.js";
import { AdmissionEstimate } from "./AdmissionEstimate.js";

export interface EntryAdmissionOptions {
  maxBatchSize: number;
  /** Batches of one queue that run side by side (one per engine worker). */
  parallelBatches: number;
  /** Requests that may wait in an entry queue. */
  maxQueueSize: number;
  /** Longest estimated wait a request is admitted into, in ms (0 = no limit). */
  maxQueueWaitMs: number;
}

/** What admission reads of an entry queue. */
export interface EntryQueue {
  readonly depth: number;
  /** How error messages name it ("stage 1", "the fused path's"). */
  readonly name: string;
}

/**
 * Admission to the pipeline's entry queues (stage 1, and the fused graph when the model has one):
 * a request is refused when its queue is full, or when the wait it would have there (estimated
 * from that queue's batch times, AdmissionEstimate) exceeds maxQueueWaitMs. Later stages admit
 * nothing: they take what the stages before them send on.
 */
export class EntryAdmission {
  private readonly estimates = new Map<number, AdmissionEstimate>();

  constructor(
    entries: readonly number[],
    private readonly opts: EntryAdmissionOptions,
    private readonly queue: (entry: number) => EntryQueue,
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

  /** How long a request admitted now into `entry` would wait for its first answer; without `entry`, the longest over the entry queues. */
  waitMs(entry?: number): number {
    const waitAt = (k: number) => this.estimates.get(k)!.waitMs(this.queue(k).depth);
    if (entry !== undefined) return waitAt(entry);
    return Math.max(...[...this.estimates.keys()].map(waitAt));
  }

  /** Why a request for `entry` would be refused now (resource_exhausted), or undefined. */
  refusal(entry: number): ServingError | undefined {
    const q = this.queue(entry);
    if (this.opts.maxQueueWaitMs > 0) {
      const waitMs = this.waitMs(entry);
      if (waitMs > this.opts.maxQueueWaitMs) {
        return new ServingError(
          "resource_exhausted",
          `overloaded: ${q.name} queue would delay this request about ${Math.round(waitMs)} ms (limit maxQueueWaitMs ${this.opts.maxQueueWaitMs} ms); retry with backoff`,
        );
      }
    }
    if (q.depth >= this.opts.maxQueueSize) return this.full(entry);
    return undefined;
  }

  /** The refusal for a full queue. */
  full(entry: number): ServingError {
    return new ServingError("resource_exhausted", `${this.queue(entry).name} queue is full (${this.opts.maxQueueSize} waiting requests); retry with backoff`);
  }
}
