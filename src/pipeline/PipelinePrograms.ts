import { Scheduler } from "../scheduler/Scheduler.js";
import { SchedulerLoop } from "../scheduler/SchedulerLoop.js";
import type { StageQueue } from "../scheduler/StageQueue.js";
import { EntryAdmission } from "./EntryAdmission.js";
import type { PipelineModel, PipelineOptions, RequestOptions } from "./pipelineTypes.js";
import type { Sample } from "./Sample.js";

/** A graph the pipeline runs batches of, with its queue: a stage, or the fused whole network. */
export interface Program {
  graph: { inputs: readonly string[]; outputs: readonly string[] };
  /** The engine's session of the graph (the stages, then the fused graph); also the metrics' stage index. */
  session: number;
  fused: boolean;
  queue: StageQueue<Sample>;
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

  constructor(model: PipelineModel, opts: PipelineOptions, runBatch: (p: Program, batch: Sample[], worker: number) => Promise<void>) {
    const K = model.stages.length;
    this.loop = opts.scheduling?.loop ?? new SchedulerLoop(new Scheduler({ workers: 1, slotsPerWorker: 1 }), opts.clock);
    const schedulerModel = opts.scheduling?.model ?? "pipeline";
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
      (session) => this.bySession(session).queue,
      (session) => (session === K ? "the fused path's" : `stage ${session + 1}`),
    );
    const program = (graph: Program["graph"], session: number, fused: boolean): Program => {
      const p: Program = { graph, session, fused, queue: undefined! };
      p.queue = this.loop.addQueue<Sample>({
        model: schedulerModel,
        depthOrder: session, // the fused graph (session K) deepest
        maxBatchSize: opts.maxBatchSize,
        maxQueueDelayMs: opts.maxQueueDelayMs,
        dispatchWhenIdle: opts.dispatchWhenIdle !== false,
        rank: (s) => s.rank,
        group: entries.includes(session) ? (s) => s.opts.tenant : undefined, // a tenant's share of the entry queues
        run: (batch, worker) => runBatch(p, batch, worker),
      });
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

  /** Where a request enters: the fused graph when it must reach the last exit anyway (a fixed last exit, not anytime), else stage 1. */
  entryOf(opts: RequestOptions): Program {
    return this.fused && opts.fixedExit === this.stages.length - 1 && !opts.anytime ? this.fused : this.stages[0]!;
  }

  /** Takes the queues out of the scheduler (every request answered: after drain). */
  close(): void {
    for (const p of [...this.stages, ...(this.fused ? [this.fused] : [])]) this.loop.removeQueue(p.queue as StageQueue<unknown>);
  }
}
