import { BatchTimes } from "./BatchTimes.js";
import { type QueueSpec, StageQueue } from "./StageQueue.js";

/**
 * Batches a worker holds at once. 2: a worker has its next batch while it runs the current one,
 * so gathering, posting and scattering on the main thread overlap its compute (with 1 the worker
 * idled about 40% of the time under load).
 */
export const SLOTS_PER_WORKER = 2;

/**
 * How long a priority level of a model stays active after one of its requests joined a queue of
 * the model: while a higher level is active, lower levels' batches stay short (QueueSpec.yieldBatchSize).
 */
export const LEVEL_ACTIVE_MS = 1000;

export interface SchedulerOptions {
  /** Engine worker threads (0..workers-1). */
  workers: number;
  /** Batches one worker holds at once: the running one and those waiting in it (default SLOTS_PER_WORKER). */
  slotsPerWorker?: number;
  /** Whether worker `i` takes work now (one being replaced after a failure does not); default: every worker. */
  workerAlive?: (worker: number) => boolean;
}

/** One batch to start now: these items of this queue, on this worker. */
export interface PlannedBatch<T = unknown> {
  queue: StageQueue<T>;
  items: T[];
  worker: number;
}

interface ModelState {
  key: string;
  queues: StageQueue<unknown>[];
  /** Its batches in the workers (running or waiting in one). */
  inWorkers: number;
  /** The highest priority level active in it (the lowest rank; see StageQueue.activeRank), as of this plan. */
  activeRank: number;
}

/** A batch a worker holds: its model, and the rank of the first in line when it formed. */
interface Held {
  m: ModelState;
  rank: number;
  batch: PlannedBatch;
}

/**
 * The one scheduler: owns every stage queue of every model and every engine worker slot, and
 * answers which batches run next (schedule returns the plan; SchedulerLoop carries it out).
 * A batch forms only when a worker slot is free for it, so it leaves as late, and as full, as it
 * can, and the choice of what runs is made when the slot frees, never by an earlier queue order:
 *
 * - Slots: the least loaded worker first; a worker with nothing (idle) takes whatever waits
 *   (work-conserving, with the queue's dispatchWhenIdle); a busy worker's further slot opens as
 *   its batches are due to end (BatchTimes: no batch could start sooner, what arrives meanwhile
 *   joins, and the deepest goes first), then takes a full batch or one waited maxQueueDelayMs.
 * - Models: of the models with a batch that may leave, the one with the fewest batches in the
 *   workers (round-robin among equals). A worker's further slot takes a batch of the model it
 *   runs, or of a model with fewer batches in the workers: a quiet model's batch, arriving while a
 *   flooded model fills every slot, gets the next free slot, and the flooded model's batches are
 *   not queued behind it.
 * - A queue pinned to a worker (QueueSpec.worker: its items' kept tensors are there) gives batches
 *   to that worker's slots only; while that worker takes no work (it died: its kept tensors are
 *   gone), to any worker, whose run fails them at once (UNAVAILABLE) instead of leaving them
 *   waiting for a replacement that may never come.
 * - Within a model: a queue whose head is not delayed by its queue timeout first, then the highest
 *   priority level (the lowest rank at a queue's head), then the deepest program (depthOrder), FIFO
 *   within a level of a queue. A batch takes the first maxBatchSize in
 *   line, so it mixes levels only to fill up.
 * - Preemption between batches (queues with yieldBatchSize): while a higher priority level is
 *   active in a model (one of its requests queued, or joined a queue within LEVEL_ACTIVE_MS),
 *   lower levels' requests fill a batch only up to yieldBatchSize, and a higher level's batch
 *   passes the lower levels' batches in a worker's slots, taking a slot beyond slotsPerWorker at
 *   once. So at each stage a higher level's request waits behind at most slotsPerWorker short
 *   batches, never for a slot. (Between models it does not apply: measured, a model with fewer
 *   batches in the workers is not a quieter one, and no quiet model under a unary flood gained.)
 */
export class Scheduler {
  private readonly models = new Map<string, ModelState>();
  /** The batches each worker holds, in the order it runs them (the first is running). */
  private readonly held: Held[][];
  /** When each worker's held batches are due to end (its further slot opens near then). */
  private readonly times: BatchTimes;
  private turn = 0;
  readonly slotsPerWorker: number;

  constructor(private readonly opts: SchedulerOptions) {
    if (opts.workers < 1) throw new RangeError("workers must be >= 1");
    this.slotsPerWorker = opts.slotsPerWorker ?? SLOTS_PER_WORKER;
    this.held = Array.from({ length: opts.workers }, () => []);
    this.times = new BatchTimes(opts.workers);
  }

  get workers(): number {
    return this.opts.workers;
  }

  /** Batches the workers hold at once. */
  get slotCount(): number {
    return this.opts.workers * this.slotsPerWorker;
  }

  addQueue<T>(spec: QueueSpec<T>): StageQueue<T> {
    const q = new StageQueue(spec);
    let m = this.models.get(spec.model);
    if (!m) {
      m = { key: spec.model, queues: [], inWorkers: 0, activeRank: Number.POSITIVE_INFINITY };
      this.models.set(spec.model, m);
    }
    m.queues.push(q as StageQueue<unknown>);
    return q;
  }

  /** Forgets a queue (its owner has drained it); a model whose last queue goes is forgotten once its batches finish. */
  removeQueue(q: StageQueue<unknown>): void {
    const m = this.models.get(q.spec.model);
    if (!m) return;
    m.queues = m.queues.filter((x) => x !== q);
    if (m.queues.length === 0 && m.inWorkers === 0) this.models.delete(m.key);
  }

  /** The batches to start now, each taken out of its queue and counted in its worker's slots until finished(). */
  schedule(nowMs: number): PlannedBatch[] {
    const plan: PlannedBatch[] = [];
    const models = [...this.models.values()];
    for (const m of models) m.activeRank = activeRank(m.queues, nowMs - LEVEL_ACTIVE_MS);
    for (let planned = true; planned; ) {
      planned = false;
      let most = 0;
      for (const h of this.held) most = Math.max(most, h.length);
      // the least loaded worker first: a batch waits in a worker behind another only when every worker has one;
      // from slotsPerWorker on, only a batch of a higher level than the batches filling the worker's slots
      for (let load = 0; load <= most && !planned; load++) {
        for (let worker = 0; worker < this.held.length && !planned; worker++) {
          const held = this.held[worker]!;
          if (held.length !== load || !this.takesWork(worker)) continue;
          const beyond = load >= this.slotsPerWorker ? held : undefined;
          if (beyond && !mayBePassed(beyond)) continue;
          const opensAtMs = load === 0 || beyond ? Number.NEGATIVE_INFINITY : this.times.slotOpensAtMs(worker, held);
          const picked = this.pick(models, nowMs, load === 0 || beyond !== undefined, held[0]?.m, worker, beyond, opensAtMs);
          if (!picked) continue;
          const [m, queue] = picked;
          const rank = queue.head!.rank;
          const batch: PlannedBatch = { queue, items: queue.take(queue.spec.maxBatchSize, m.activeRank), worker };
          m.inWorkers++;
          if (held.length === 0) this.times.started(worker, nowMs);
          held.push({ m, rank, batch });
          plan.push(batch);
          planned = true;
        }
      }
    }
    return plan;
  }

  /** A planned batch has settled: its slot is free; at `nowMs`, the time it took counts in its queue's batch times. */
  finished(b: PlannedBatch, nowMs?: number): void {
    const held = this.held[b.worker]!;
    const i = held.findIndex((h) => h.batch === b);
    if (i < 0) return;
    const { m } = held[i]!;
    held.splice(i, 1);
    if (i === 0 && nowMs !== undefined) this.times.finished(b.worker, b, nowMs, held.length > 0);
    m.inWorkers--;
    if (m.queues.length === 0 && m.inWorkers === 0) this.models.delete(m.key);
  }

  /**
   * Whether a batch of `model` whose lowest priority level is `rank` shares the engine with work a
   * long run of it would hold up: another model with a batch in the workers, or a request waiting
   * or queued within LEVEL_ACTIVE_MS; or a higher level of its own model active (see activeRank).
   */
  sharesEngine(model: string, rank: number, nowMs: number): boolean {
    const since = nowMs - LEVEL_ACTIVE_MS;
    for (const m of this.models.values()) {
      const active = activeRank(m.queues, since);
      if (m.key === model ? active < rank : m.inWorkers > 0 || active !== Number.POSITIVE_INFINITY) return true;
    }
    return false;
  }

  /**
   * When a waiting partial batch may next leave (its first in line reaching maxQueueDelayMs, and
   * a busy worker's batches nearing their end), if some worker has a free slot for it; undefined
   * when nothing waits or every slot is taken (then a finishing batch calls for the next plan).
   */
  nextDueMs(nowMs: number): number | undefined {
    let due: number | undefined;
    for (let w = 0; w < this.held.length; w++) {
      const held = this.held[w]!;
      if (held.length >= this.slotsPerWorker || !this.takesWork(w)) continue;
      const opensAtMs = this.times.slotOpensAtMs(w, held);
      for (const m of this.models.values()) {
        for (const q of m.queues) {
          const pinned = q.spec.worker;
          if (pinned !== undefined && pinned !== w && this.takesWork(pinned)) continue;
          const t = q.readyAtMs(opensAtMs);
          if (t !== undefined && t > nowMs && (due === undefined || t < due)) due = t;
        }
      }
    }
    return due;
  }

  private takesWork(worker: number): boolean {
    return this.opts.workerAlive?.(worker) ?? true;
  }

  /**
   * For a worker slot (idle: the worker holds nothing, or the slot is one beyond slotsPerWorker;
   * `running`: the model of the batch it runs; `beyond`: the batches of a worker whose slots are
   * full, which only a higher level's batch may pass), the model and queue whose batch goes there,
   * or undefined.
   */
  private pick(
    models: readonly ModelState[],
    nowMs: number,
    idle: boolean,
    running: ModelState | undefined,
    worker: number,
    beyond?: readonly Held[],
    opensAtMs = Number.NEGATIVE_INFINITY,
  ): [ModelState, StageQueue<unknown>] | undefined {
    let best: [ModelState, StageQueue<unknown>] | undefined;
    let bestAt = 0;
    for (let i = 0; i < models.length; i++) {
      const at = (this.turn + i) % models.length;
      const m = models[at]!;
      if (best && m.inWorkers >= best[0].inWorkers) continue;
      if (!beyond && running && m !== running && m.inWorkers >= running.inWorkers) continue;
      const q = this.firstInLine(m, nowMs, idle, worker, opensAtMs, beyond);
      if (!q) continue;
      best = [m, q];
      bestAt = at;
    }
    if (best) this.turn = (bestAt + 1) % models.length;
    return best;
  }

  /** Of model `m`'s queues with a batch that may leave for this worker slot (see pick), the one with the highest priority level at its head, then the deepest. */
  private firstInLine(
    m: ModelState,
    nowMs: number,
    idle: boolean,
    worker: number,
    opensAtMs: number,
    beyond?: readonly Held[],
  ): StageQueue<unknown> | undefined {
    let best: StageQueue<unknown> | undefined;
    for (const q of m.queues) {
      if (!q.ready(nowMs, idle, opensAtMs)) continue;
      const pinned = q.spec.worker; // its items' kept tensors are there, unless that worker died
      if (pinned !== undefined && pinned !== worker && this.takesWork(pinned)) continue;
      if (beyond && !passes(q, m, beyond, this.slotsPerWorker)) continue;
      if (!best || before(q, best)) best = q;
    }
    return best;
  }
}

/** The most urgent rank active in a model's queues (StageQueue.activeRank); +Infinity: none. */
function activeRank(queues: readonly StageQueue<unknown>[], sinceMs: number): number {
  let rank = Number.POSITIVE_INFINITY;
  for (const q of queues) rank = Math.min(rank, q.activeRank(sinceMs) ?? rank);
  return rank;
}

/** Whether a batch of a worker's `held` ones may be passed: a lower level's than its model's most urgent active one, from a queue with yieldBatchSize. */
function mayBePassed(held: readonly Held[]): boolean {
  for (const h of held) if (h.rank > h.m.activeRank && h.batch.queue.spec.yieldBatchSize) return true;
  return false;
}

/**
 * Whether a batch of `q` (model `m`) may join a worker holding `held`, its slots full: its first
 * in line is not delayed, and fewer than `slots` of the held batches are ahead of it, a held
 * batch being passed when it yields to this one (a lower level's of the same model, from a queue
 * with yieldBatchSize).
 */
function passes(q: StageQueue<unknown>, m: ModelState, held: readonly Held[], slots: number): boolean {
  const head = q.head;
  if (!head || head.delayed) return false;
  let ahead = 0;
  for (const h of held) if (!(h.m === m && h.rank > head.rank && h.batch.queue.spec.yieldBatchSize)) ahead++;
  return ahead < slots;
}

/** Whether queue `a`'s batch goes before `b`'s (both ready, same model): a head not delayed first, then the lower rank, then the deeper program. */
function before(a: StageQueue<unknown>, b: StageQueue<unknown>): boolean {
  const x = a.head!;
  const y = b.head!;
  if (x.delayed !== y.delayed) return !x.delayed;
  if (x.rank !== y.rank) return x.rank < y.rank;
  return a.spec.depthOrder > b.spec.depthOrder;
}
