import type { HostTensor } from "../engine/StageRunner.js";

/**
 * A sample's row of a batch tensor: the tensor a stage produced for a whole batch, and the
 * sample's row in it. Samples keep references, not copies: when a whole batch goes on to the
 * next stage in the same order, its tensors go on as one block (no copy at all); otherwise the
 * next batch gathers its rows once.
 */
export interface RowRef {
  block: HostTensor;
  row: number;
}

/** A single sample's tensor (its request input) as a one-row block. */
export function ownRow(data: Float32Array, dims: readonly number[]): RowRef {
  return { block: { data, dims: [1, ...dims] }, row: 0 };
}

/**
 * The batch tensor for these rows (in batch order): the block itself when the rows are all of
 * one block, in order, and nothing else of it (no other sample reads it, so it can be handed
 * over as it is); else a new tensor with each row copied once.
 */
export function gatherRows(rows: readonly RowRef[], rowDims: readonly number[]): HostTensor {
  const first = rows[0]!.block;
  if (first.dims[0] === rows.length && rows.every((r, i) => r.block === first && r.row === i)) return first;
  const size = rowDims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => {
    data.set(r.block.data.subarray(r.row * size, (r.row + 1) * size), i * size);
  });
  return { data, dims: [rows.length, ...rowDims] };
}
