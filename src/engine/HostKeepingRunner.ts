import { type ExitScorer, makeScorer } from "../scoring/exitScorers.js";
import { KeptBlockStore } from "./KeptBlockStore.js";
import type { BatchOptions, HostTensor, KeptBlock, RunOptions, StageBatch, StageBatchResult, StageRunner } from "./StageRunner.js";
import { boardOf, type ChainAnswers, type ChainModel, type ChainRules, runChain } from "./stageChain.js";
import type { ThresholdBoard } from "./ThresholdBoard.js";

/**
 * A StageRunner over any runStage that keeps its kept blocks in this thread: what the engine
 * workers do for OrtEngine, for runners that compute in-process (tests, tools). `keptBlocks`
 * counts the blocks not yet released.
 */
export class HostKeepingRunner implements StageRunner {
  private readonly blocks = new KeptBlockStore();
  private readonly chains = new WeakMap<ChainModel, { scorer: ExitScorer; board: ThresholdBoard }>();

  constructor(private readonly inner: Pick<StageRunner, "runStage">) {}

  get keptBlocks(): number {
    return this.blocks.size;
  }

  runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>> {
    return this.inner.runStage(stage, feeds, opts);
  }

  /** A batch's feeds: its host tensors and its kept rows gathered. */
  private feeds(batch: StageBatch): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = { ...batch.host };
    for (const [name, rows] of Object.entries(batch.kept)) {
      feeds[name] = this.blocks.gather(
        name,
        rows.length,
        (j) => rows[j]!.block.id,
        (j) => rows[j]!.row,
      );
    }
    return feeds;
  }

  async runBatch(stage: number, batch: StageBatch, opts: BatchOptions): Promise<StageBatchResult> {
    const feeds = this.feeds(batch);
    const out = await this.inner.runStage(stage, feeds, { worker: opts.worker, transferInputs: opts.transferInputs });
    const host: Record<string, HostTensor> = {};
    const kept: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) (opts.keep.includes(name) ? kept : host)[name] = t;
    if (opts.keep.length === 0) return { host };
    return { host, kept: { worker: opts.worker, generation: 0, id: this.blocks.put("", kept) } };
  }

  release(block: KeptBlock): void {
    this.blocks.delete(block.id);
  }

  runChain(model: ChainModel, batch: StageBatch, rules: ChainRules, opts: { worker: number; transferInputs?: boolean }): Promise<ChainAnswers> {
    let chain = this.chains.get(model);
    if (!chain) {
      chain = { scorer: makeScorer(model.scoreRule, model.temperatures), board: boardOf(model) };
      this.chains.set(model, chain);
    }
    const run = (k: number, feeds: Record<string, HostTensor>) => this.inner.runStage(k, feeds, { worker: opts.worker, transferInputs: opts.transferInputs });
    return runChain(model, chain.scorer, chain.board, opts.worker, this.feeds(batch), rules, run, () => performance.now());
  }
}
