import { gatherRows } from "./gatherRows.js";
import type { BatchOptions, HostTensor, KeptBlock, RunOptions, StageBatch, StageBatchResult, StageRunner } from "./StageRunner.js";

/**
 * A StageRunner over any runStage that keeps its kept blocks in this thread: what the engine
 * workers do for OrtEngine, for runners that compute in-process (tests, tools). `keptBlocks`
 * counts the blocks not yet released.
 */
export class HostKeepingRunner implements StageRunner {
  private readonly blocks = new Map<number, Record<string, HostTensor>>();
  private nextId = 0;

  constructor(private readonly inner: Pick<StageRunner, "runStage">) {}

  get keptBlocks(): number {
    return this.blocks.size;
  }

  runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>> {
    return this.inner.runStage(stage, feeds, opts);
  }

  async runBatch(stage: number, batch: StageBatch, opts: BatchOptions): Promise<StageBatchResult> {
    const feeds: Record<string, HostTensor> = { ...batch.host };
    for (const [name, rows] of Object.entries(batch.kept)) {
      const refs = rows.map((r) => {
        const tensor = this.blocks.get(r.block.id)?.[name];
        if (!tensor) throw new Error(`kept tensor '${name}' of block ${r.block.id} is not here (released, or never made)`);
        return { tensor, row: r.row };
      });
      feeds[name] = gatherRows(refs, refs[0]!.tensor.dims.slice(1));
    }
    const out = await this.inner.runStage(stage, feeds, { worker: opts.worker, transferInputs: opts.transferInputs });
    const host: Record<string, HostTensor> = {};
    const kept: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) (opts.keep.includes(name) ? kept : host)[name] = t;
    if (opts.keep.length === 0) return { host };
    const block: KeptBlock = { worker: opts.worker, generation: 0, id: this.nextId++ };
    this.blocks.set(block.id, kept);
    return { host, kept: block };
  }

  release(block: KeptBlock): void {
    this.blocks.delete(block.id);
  }
}
