import type { HostTensor } from "../engine/StageRunner.js";

/** One batch tensor from per-sample rows of shape `dims` (copied once, in batch order). */
export function gatherRows(rows: readonly Float32Array[], dims: readonly number[]): HostTensor {
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * size);
  rows.forEach((row, i) => {
    data.set(row, i * size);
  });
  return { data, dims: [rows.length, ...dims] };
}

/** Sample i's row of a batch tensor of `batchSize` rows, as a copy it owns. */
export function rowOf(t: HostTensor, i: number, batchSize: number): Float32Array {
  const size = t.data.length / batchSize;
  return t.data.slice(i * size, (i + 1) * size);
}
