/** Softmax of row `row` of a [rows, classes] logits array, as a new array. */
export function softmaxRow(logits: Float32Array, row: number, classes: number): Float32Array {
  const off = row * classes;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[off + c]!);
  const out = new Float32Array(classes);
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
