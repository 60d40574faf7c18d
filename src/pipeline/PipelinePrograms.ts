import type { StageRunner } from "../engine/StageRunner.js";
import { Batcher } from "./Batcher.js";
import { EntryAdmission } from "./EntryAdmission.js";
import type { PipelineModel, PipelineOptions, RequestOptions } from "./pipelineTypes.js";
import type { Sample } from "./Sample.js";

/** A graph the pipeline runs batches of, with its queue: a stage, or the fused whole network. */
export interface Program {
  graph: { inputs: readonly string[]; outputs: readonly string[] };
  /** The engine's session of the graph (the stages, then the fused graph); also the metrics' stage index. */
  session: number;
  fused: boolean;
  batcher: Batcher<Sample>;
}

/**
 * The programs of a pipeline and their queues: one per stage, and the fused whole-network graph
 * when the model has one; and admission to the entry queues (stage 1's and the fused graph's).
 */
export class PipelinePrograms {
  /** The stages in order. */
  readonly stages: Program[];
  readonly fused: Program | undefined;
  /** Admission to the entry queues, keyed by session. */
  readonly admission: EntryAdmission;

  constructor(model: PipelineModel, runner: StageRunner, opts: PipelineOptions, runBatch: (p: Program, batch: Sample[]) => Promise<void>) {
    const K = model.stages.length;
    const entries = model.fused ? [0, K] : [0];
    this.admission = new EntryAdmission(
      entries,
      {
        maxBatchSize: opts.maxBatchSize,
        parallelBatches: opts.maxInflightBatches ?? 1,
        maxQueueSize: opts.maxQueueSize,
        maxQueueSizeByLevel: opts.maxQueueSizeByLevel,
        maxQueueWaitMs: opts.maxQueueWaitMs ?? 0,
      },
      (session) => this.bySession(session).batcher,
      (session) => (session === K ? "the fused path's" : `stage ${session + 1}`),
    );
    const idle = opts.dispatchWhenIdle !== false && runner.hasIdleWorker ? () => runner.hasIdleWorker!() : undefined;
    const program = (graph: Program["graph"], session: number, fused: boolean): Program => {
      const p: Program = { graph, session, fused, batcher: undefined! };
      p.batcher = new Batcher<Sample>({
        maxBatchSize: opts.maxBatchSize,
        maxQueueDelayMs: opts.maxQueueDelayMs,
        maxQueueSize: entries.includes(session) ? opts.maxQueueSize : Number.POSITIVE_INFINITY,
        maxInflightBatches: opts.maxInflightBatches,
        clock: opts.clock,
        runnerIdle: idle,
        rank: (s) => s.rank,
        group: entries.includes(session) ? (s) => s.opts.tenant : undefined, // a tenant's share of the entry queues
        run: (batch) => runBatch(p, batch),
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

  /** Lets every queue run what waits if a worker has become idle: the fused graph's, then the deepest stage first. */
  pokeAll(): void {
    this.fused?.batcher.poke();
    for (let j = this.stages.length - 1; j >= 0; j--) this.stages[j]!.batcher.poke();
  }
}
