import type { OrtEngine } from "../../src/engine/OrtEngine.js";
import { runAllStages } from "../../src/engine/runAllStages.js";
import { type ImageSet, imageOf, normalise } from "./fashionMnist.js";

/**
 * Chains every stage over a whole image set in batches (no early exit) and returns the logits
 * of every exit: [count * exits * classes], the layout of the calibration file.
 */
export async function exitLogits(engine: OrtEngine, set: ImageSet, batchSize = 500, onProgress?: (done: number) => void): Promise<Float32Array> {
  const m = engine.manifest;
  const K = m.stages.length;
  const C = m.labels.length;
  const per = m.input.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(set.count * K * C);
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const data = new Float32Array(n * per);
    for (let i = 0; i < n; i++) data.set(normalise(imageOf(set, start + i), m.input), i * per);
    await runAllStages(engine, m.stages, { [m.input.name]: { data, dims: [n, ...m.input.shape] } }, (k, res) => {
      for (let i = 0; i < n; i++) out.set(res.logits!.data.subarray(i * C, (i + 1) * C), ((start + i) * K + k) * C);
    });
    onProgress?.(start + n);
  }
  return out;
}
