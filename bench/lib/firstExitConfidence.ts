import { readFileSync } from "node:fs";
import path from "node:path";

/** Max softmax of exit 1 per test image, from the model's evaluation file (it only orders the requests). */
export function firstExitConfidence(dir: string): (i: number) => number {
  const head = JSON.parse(readFileSync(path.join(dir, "evaluation.json"), "utf8"));
  const buf = readFileSync(path.join(dir, head.file));
  const logits = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const { exits, classes } = head;
  return (i) => {
    const row = logits.subarray(i * exits * classes, i * exits * classes + classes);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    return 1 / z;
  };
}
