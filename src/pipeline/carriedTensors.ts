import { gatherRows } from "../engine/gatherRows.js";
import type { HostTensor, KeptBlock, KeptRow, StageBatch } from "../engine/StageRunner.js";

/** A kept block as the pipeline holds it: the samples' references to it, counted so that the last one releases it. */
export interface KeptHandle {
  block: KeptBlock;
  holders: number;
}

/**
 * A sample's row of a tensor a later stage reads: of a host tensor (its request input, as a
 * one-row block), or of a block kept in the engine worker that made it (an earlier stage's
 * outputs, which never come back to this thread).
 */
export type TensorRef = { kind: "host"; block: HostTensor; row: number } | { kind: "kept"; handle: KeptHandle; row: number };

/** A single sample's tensor (its request input) as a one-row host block. */
export function ownRow(data: Float32Array, dims: readonly number[]): TensorRef {
  return { kind: "host", block: { data, dims: [1, ...dims] }, row: 0 };
}

/** The batch's input `name`, in batch order: a host tensor (rows gathered once), or the kept rows the engine reads where they are. */
export function batchInput(refs: readonly TensorRef[], rowDims: () => readonly number[]): { host: HostTensor } | { kept: KeptRow[] } {
  if (refs.every((r) => r.kind === "host"))
    return {
      host: gatherRows(
        refs.map((r) => ({ tensor: r.block, row: r.row })),
        rowDims(),
      ),
    };
  if (refs.every((r) => r.kind === "kept")) return { kept: refs.map((r) => ({ block: r.handle.block, row: r.row })) };
  throw new Error("a batch input is kept in the engine for some samples and not for others");
}

/** Drops one reference; the engine frees its block when it was the last. */
export function drop(ref: TensorRef, engine: { release(block: KeptBlock): void }): void {
  if (ref.kind === "kept" && --ref.handle.holders === 0) engine.release(ref.handle.block);
}

/** A stage batch's inputs: host tensors gathered once (the request inputs; only the model input's shape is known here), kept rows read where they are. */
export function stageInputs(
  names: readonly string[],
  batch: readonly { tensors: ReadonlyMap<string, TensorRef> }[],
  model: { inputName: string; inputShape: readonly number[] },
): StageBatch {
  const inputs: StageBatch = { host: {}, kept: {} };
  for (const name of names) {
    const input = batchInput(
      batch.map((s) => s.tensors.get(name)!),
      () => {
        if (name !== model.inputName) throw new Error(`no shape known for tensor '${name}'`);
        return model.inputShape;
      },
    );
    if ("host" in input) inputs.host[name] = input.host;
    else inputs.kept[name] = input.kept;
  }
  return inputs;
}
