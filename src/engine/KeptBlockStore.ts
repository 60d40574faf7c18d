import { gatherRows } from "./gatherRows.js";
import type { HostTensor } from "./StageRunner.js";

/**
 * The outputs of stage batches kept for later stages, by block id, each with the model it belongs
 * to: what an engine worker holds between a request's stages (HostKeepingRunner holds the same
 * in-process).
 */
export class KeptBlockStore {
  private readonly blocks = new Map<number, { model: string; tensors: Record<string, HostTensor> }>();
  private nextId = 0;

  /** Blocks held. */
  get size(): number {
    return this.blocks.size;
  }

  /** Keeps a batch's outputs; returns the block's id. */
  put(model: string, tensors: Record<string, HostTensor>): number {
    const id = this.nextId++;
    this.blocks.set(id, { model, tensors });
    return id;
  }

  /**
   * The batch tensor of kept tensor `name` for `n` samples, sample j reading row `rowOf(j)` of
   * block `blockOf(j)`: the block's own tensor when the batch is all of it, in order; else the
   * rows gathered once.
   */
  gather(name: string, n: number, blockOf: (j: number) => number, rowOf: (j: number) => number): HostTensor {
    const refs = Array.from({ length: n }, (_, j) => {
      const tensor = this.blocks.get(blockOf(j))?.tensors[name];
      if (!tensor) throw new Error(`kept tensor '${name}' of block ${blockOf(j)} is not here (freed, or never made)`);
      return { tensor, row: rowOf(j) };
    });
    return gatherRows(refs, refs[0]!.tensor.dims.slice(1));
  }

  delete(id: number): void {
    this.blocks.delete(id);
  }

  /** Frees every block of `model` (it is unloaded). */
  deleteModel(model: string): void {
    for (const [id, b] of this.blocks) if (b.model === model) this.blocks.delete(id);
  }

  clear(): void {
    this.blocks.clear();
  }
}
