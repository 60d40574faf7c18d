import { lastReaders } from "../format/manifest.js";
import { Scheduler } from "../scheduler/Scheduler.js";
import { SchedulerLoop } from "../scheduler/SchedulerLoop.js";
import type { StageQueue } from "../scheduler/StageQueue.js";
import { EntryAdmission } from "./EntryAdmission.js";
import type { PipelineModel, PipelineOptions, RequestOptions } from "./pipelineTypes.js";
import type { Sample } from "./Sample.js";

/** A graph the pipeline runs batches of, with its queues: a stage, or the fused whole network. */
export interface Program {
  graph: { inputs: readonly string[]; outputs: readonly string[] };
  /** The engine's session of the graph (the stages, then the fused graph); also the metrics' stage index. */
  session: number;
  fused: boolean;
  /**
   * One queue (the entry programs: stage 1 and the fused graph, which any worker runs), or one
   * per engine worker (later stages: a sample runs where its kept tensors are).
   */
  queues: StageQueue<Sample>[];
  /** Outputs later stages read: they stay in the engine worker that ran the batch. */
  keep: readonly string[];
}

/** The queue of `p` a sample waits in: the only one, or its worker's. */
export function queueOf(p: Program, worker: number | undefined): StageQueue<Sample> {
  return p.queues.length === 1 ? p.queues[0]! : p.queues[worker ?? 0]!;
}

/** Samples waiting for `p`, in all its queues. */
export function depthOf(p: Program): number {
  let n = 0;
  for (const q of p.queues) n += q.depth;
  return n;
}

/**
 * The programs of a pipeline and their queues: one per stage, and the fused whole-network graph
 * when the model has one, in the scheduler (the server's, shared by every model, or one of its own
 * with one worker slot); and admission to the entry queues (stage 1's and the fused graph's).
 */
export class PipelinePrograms {
  /** The stages in order. */
  readonly stages: Program[];
  readonly fused: Program | undefined;
  /** Admission to the entry queues, keyed by session. */
  readonly admission: EntryAdmission;
  readonly loop: SchedulerLoop;
  /** Each carried tensor's last reading stage (0-based): a request holds a tensor until past it, a stage keeps what later ones read. */
  readonly lastReader: ReadonlyMap<string, number>;
  /** This model's name in the scheduler. */
  private readonly schedulerModel: string;

  constructor(model: PipelineModel, opts: PipelineOptions, runBatch: (p: Program, batch: Sample[], worker: number) => Promise<void>) {
    const K = model.stages.length;
    this.lastReader = lastReaders(model);
    this.loop = opts.scheduling?.loop ?? new SchedulerLoop(new Scheduler({ workers: 1, slotsPerWorker: 1 }), opts.clock);
    this.schedulerModel = opts.scheduling?.model ?? "pipeline";
    const entries = model.fused ? [0, K] : [0];
    this.admission = new EntryAdmission(
      entries,
      {
        maxBatchSize: opts.maxBatchSize,
        parallelBatches: this.loop.scheduler.slotCount,
        maxQueueSize: opts.maxQueueSize,
        maxQueueSizeByLevel: opts.maxQueueSizeByLevel,
        maxQueueWaitMs: opts.maxQueueWaitMs ?? 0,
        yieldToHigherLevels: opts.yieldToHigherLevels && { ...opts.yieldToHigherLevels, nowMs: () => opts.clock.now() },
      },
      (session) => this.bySession(session).queues[0]!,
      (session) => (session === K ? "the fused path's" : `stage ${session + 1}`),
    );
    const readers = this.lastReader;
    const program = (graph: Program["graph"], session: number, fused: boolean): Program => {
      const entry = entries.includes(session);
      const keep = fused ? [] : graph.outputs.filter((n) => n !== "logits" && (readers.get(n) ?? -1) > session);
      const queues: StageQueue<Sample>[] = [];
      const p: Program = { graph, session, fused, queues, keep };
      const workers = entry ? [undefined] : Array.from({ length: this.loop.scheduler.workers }, (_, w) => w);
      for (const worker of workers) {
        queues.push(
          this.loop.addQueue<Sample>({
            model: this.schedulerModel,
            depthOrder: session, // the fused graph (session K) deepest
            worker,
            maxBatchSize: opts.maxBatchSize,
            maxQueueDelayMs: opts.maxQueueDelayMs,
            yieldBatchSize: opts.yieldBatchSize,
            dispatchWhenIdle: opts.dispatchWhenIdle !== false,
            rank: (s) => s.rank,
            group: entry ? (s) => s.opts.tenant : undefined, // a tenant's share of the entry queues
            run: (batch, w) => runBatch(p, batch, w),
          }),
        );
      }
      return p;
    };
    this.stages = model.stages.map((g, k) => program(g, k, false));
    this.fused = model.fused ? program(model.fused, K, true) : undefined;
  }

  bySession(session: number): Program {
    return session < this.stages.length ? this.stages[session]! : this.fused!;
  }

  /** The program whose queue `s` waits in (or whose batch it runs). */
  of(s: Sample): Program {
    return s.path === "fused" ? this.fused! : this.stages[s.stage]!;
  }

  /** The queue `s` waits in. */
  queueOf(s: Sample): StageQueue<Sample> {
    return queueOf(this.of(s), s.worker);
  }

  /** Where a request enters: the fused graph when it must reach the last exit anyway (a fixed last exit, not anytime), else stage 1. */
  entryOf(opts: RequestOptions): Program {
    return this.fused && opts.fixedExit === this.stages.length - 1 && !opts.anytime ? this.fused : this.stages[0]!;
  }

  /** Whether a batch shares the engine with other work (another model's, or a higher level's of this one): Scheduler.sharesEngine. */
  sharesEngine(batch: readonly Sample[], nowMs: number): boolean {
    let rank = 0;
    for (const s of batch) rank = Math.max(rank, s.rank);
    return this.loop.scheduler.sharesEngine(this.schedulerModel, rank, nowMs);
  }

  /** Takes the queues out of the scheduler (every request answered: after drain). */
  close(): void {
    for (const p of [...this.stages, ...(this.fused ? [this.fused] : [])]) for (const q of p.queues) this.loop.removeQueue(q as StageQueue<unknown>);
  }
}
