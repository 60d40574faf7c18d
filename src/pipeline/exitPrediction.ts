import type { ExitScorer } from "../scoring/exitScorers.js";
import { argmax } from "../scoring/softmax.js";
import type { ExitPrediction } from "./pipelineTypes.js";

/**
 * Exit k's answer for row `row` of a logits batch: the scored probabilities (the rule may use
 * the previous exit's, `lastProbs`) and the prediction they give.
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
  return { probs, prediction: { exit: k, classIndex: cls, confidence: probs[cls]!, flops } };
}
