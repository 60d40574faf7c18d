/** Softmax of row `row` of a [rows, classes] logits array, into `out` (a new array without it). */
export function softmaxRow(logits: Float32Array, row: number, classes: number, out: Float32Array = new Float32Array(classes)): Float32Array {
  const off = row * classes;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[off + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    const e = Math.exp(logits[off + c]! - max);
    out[c] = e;
    sum += e;
  }
  for (let c = 0; c < classes; c++) out[c]! /= sum;
  return out;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Argmax and max softmax probability of row `row` of a [rows, classes] logits array. */
export function maxSoftmax(logits: Float32Array, row: number, classes: number): { index: number; confidence: number } {
  const off = row * classes;
  let index = 0;
  for (let c = 1; c < classes; c++) if (logits[off + c]! > logits[off + index]!) index = c;
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[off + c]! - logits[off + index]!);
  return { index, confidence: Math.fround(1 / sum) };
}

/**
 * The indices of the `k` largest values, largest first; equal values in index order (as a stable
 * sort by value would give). O(n k) without sorting the whole array: k is a top-k answer's few.
 */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const n = Math.min(Math.max(0, Math.floor(k)), values.length);
  const top: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (top.length === n && !(v > values[top[n - 1]!]!)) continue;
    let at = top.length === n ? n - 1 : top.length;
    while (at > 0 && v > values[top[at - 1]!]!) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = i;
  }
  return top;
}
