import type { HostTensor } from "../engine/StageRunner.js";
import type { ExitScorer } from "../scoring/exitScorers.js";
import { argmax, maxSoftmax } from "../scoring/softmax.js";
import type { ExitPrediction } from "./pipelineTypes.js";

/**
 * Exit k's answer for row `row` of a logits batch: the scored probabilities (the rule may use
 * the previous exit's, `lastProbs`), the prediction they give, and the exit's own prediction.
 */
export function predictAt(
  scorer: ExitScorer,
  k: number,
  logits: Float32Array,
  row: number,
  classes: number,
  lastProbs: Float32Array | undefined,
  flops: number,
): { probs: Float32Array; prediction: ExitPrediction } {
  const probs = scorer.score(k, logits, row, classes, lastProbs);
  const cls = argmax(probs);
  // under max-softmax the scored prediction is the exit's own
  const own = scorer.name === "max-softmax" ? { index: cls, confidence: probs[cls]! } : maxSoftmax(logits, row, classes);
  return { probs, prediction: { exit: k, classIndex: cls, confidence: probs[cls]!, flops, ownClassIndex: own.index, ownConfidence: own.confidence } };
}

/** Every exit's answer for row `row` of a fused graph's outputs (logits_1 ... logits_K), and the last exit's scored probabilities. */
export function predictEvery(
  scorer: ExitScorer,
  out: Record<string, HostTensor>,
  row: number,
  classes: number,
  exitFlops: readonly number[],
): { predictions: ExitPrediction[]; probs: Float32Array } {
  const predictions: ExitPrediction[] = [];
  let probs: Float32Array | undefined;
  for (let k = 0; k < exitFlops.length; k++) {
    const logits = out[`logits_${k + 1}`];
    if (!logits) throw new Error(`the fused graph returned no logits_${k + 1}`);
    const r = predictAt(scorer, k, logits.data, row, classes, probs, exitFlops[k]!);
    predictions.push(r.prediction);
    probs = r.probs;
  }
  return { predictions, probs: probs! };
}
