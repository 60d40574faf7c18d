import type { HostTensor } from "./StageRunner.js";

/**
 * The batch tensor of rows of stored tensors (in batch order): the tensor itself when the rows
 * are all of it, in order (no copy); else a new tensor with each row copied once. `rowDims`: one
 * row's dims (without the batch axis).
 */
export function gatherRows(rows: readonly { tensor: HostTensor; row: number }[], rowDims: readonly number[]): HostTensor {
  const first = rows[0]!.tensor;
  if (first.dims[0] === rows.length && rows.every((r, i) => r.tensor === first && r.row === i)) return first;
  const size = rowDims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => {
    data.set(r.tensor.data.subarray(r.row * size, (r.row + 1) * size), i * size);
  });
  return { data, dims: [rows.length, ...rowDims] };
}
