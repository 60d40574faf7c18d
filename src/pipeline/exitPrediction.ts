import type { HostTensor } from "../engine/StageRunner.js";
import { type ExitScorer, ownPrediction } from "../scoring/exitScorers.js";
import { argmax } from "../scoring/softmax.js";
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
  const own = ownPrediction(scorer, probs, cls, logits, row, classes);
  return { probs, prediction: { exit: k, classIndex: cls, confidence: probs[cls]!, flops, ownClassIndex: own.index, ownConfidence: own.confidence } };
}

/** Two arrays the exits before the last are scored into when only the last one answers (each score reads the one before). */
let scratch: Float32Array[] = [];

/** The fused graph's logits outputs by exit: logits_1 ... logits_K. */
const logitsNames: string[] = [];
const logitsName = (k: number): string => (logitsNames[k] ??= `logits_${k + 1}`);

/**
 * Every exit's answer for row `row` of a fused graph's outputs (logits_1 ... logits_K), and the
 * last exit's scored probabilities; with `every` false only the last exit's answer (the earlier
 * exits are scored only where the rule averages them).
 */
export function predictEvery(
  scorer: ExitScorer,
  out: Record<string, HostTensor>,
  row: number,
  classes: number,
  exitFlops: readonly number[],
  every = true,
): { predictions: ExitPrediction[]; probs: Float32Array } {
  const predictions: ExitPrediction[] = [];
  const K = exitFlops.length;
  const averages = scorer.name.startsWith("ensemble");
  let probs: Float32Array | undefined;
  for (let k = every || averages ? 0 : K - 1; k < K; k++) {
    const logits = out[logitsName(k)];
    if (!logits) throw new Error(`the fused graph returned no ${logitsName(k)}`);
    if (!every && k < K - 1) {
      if (scratch[0]?.length !== classes) scratch = [new Float32Array(classes), new Float32Array(classes)];
      probs = scorer.score(k, logits.data, row, classes, probs, scratch[k % 2]);
      continue;
    }
    const r = predictAt(scorer, k, logits.data, row, classes, probs, exitFlops[k]!);
    predictions.push(r.prediction);
    probs = r.probs;
  }
  return { predictions, probs: probs! };
}
