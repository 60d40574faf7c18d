import type { Calibration } from "../format/calibration.js";
import { maxSoftmax, softmaxRow } from "./softmax.js";

/**
 * How an exit turns its logits into the probabilities it answers with and whose maximum is
 * compared with the exit's threshold. `previous` is the previous exit's output (undefined at
 * the first exit), so a rule may combine the exits run so far.
 */
export interface ExitScorer {
  readonly name: ScoreRule;
  /** Per-exit temperatures of the temperature rules (empty for the others): with the name, all that makes the scorer again elsewhere (makeScorer). */
  readonly temperatures: readonly number[];
  /** The probabilities of row `row` at exit `exit`, written into `out` when given (not `previous`), else into a new array. */
  score(exit: number, logits: Float32Array, row: number, classes: number, previous: Float32Array | undefined, out?: Float32Array): Float32Array;
}

/**
 * The exit's own prediction for row `row` (argmax and max softmax of its logits alone), given the
 * scored probabilities' argmax `cls`: under max-softmax the scored prediction is the exit's own.
 */
export function ownPrediction(
  scorer: ExitScorer,
  probs: Float32Array,
  cls: number,
  logits: Float32Array,
  row: number,
  classes: number,
): { index: number; confidence: number } {
  return scorer.name === "max-softmax" ? { index: cls, confidence: probs[cls]! } : maxSoftmax(logits, row, classes);
}

export const SCORE_RULES = ["max-softmax", "temperature", "ensemble", "ensemble-temperature"] as const;
export type ScoreRule = (typeof SCORE_RULES)[number];

/** Builds a rule; temperature rules use one temperature per exit fitted on the calibration split. */
export function makeScorer(rule: ScoreRule, temperatures: readonly number[]): ExitScorer {
  const scaled = rule === "temperature" || rule === "ensemble-temperature";
  const ensemble = rule === "ensemble" || rule === "ensemble-temperature";
  return {
    name: rule,
    temperatures: scaled ? [...temperatures] : [],
    score(exit, logits, row, classes, previous, out) {
      const t = scaled ? temperatures[exit]! : 1;
      const src = t === 1 ? logits : scale(logits, row, classes, 1 / t);
      const probs = softmaxRow(src, t === 1 ? row : 0, classes, out);
      if (!ensemble || !previous) return probs;
      // running mean of the exits' probabilities: previous holds the mean of exits 0..exit-1
      for (let c = 0; c < classes; c++) probs[c] = (previous[c]! * exit + probs[c]!) / (exit + 1);
      return probs;
    },
  };
}

function scale(logits: Float32Array, row: number, classes: number, f: number): Float32Array {
  const out = new Float32Array(classes);
  for (let c = 0; c < classes; c++) out[c] = logits[row * classes + c]! * f;
  return out;
}

/**
 * Per-exit temperature minimising the negative log-likelihood on the calibration split, one exit
 * at a time with the event loop let through in between: a reload builds its budget beside a
 * serving version, whose requests must not stall meanwhile.
 */
export async function fitTemperatures(cal: Calibration): Promise<number[]> {
  const temps: number[] = [];
  for (let k = 0; k < cal.exits; k++) {
    temps.push(fitTemperature(cal, k));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return temps;
}

/** Exit k's temperature: golden-section search on log T in [log 0.25, log 8] for the least validation NLL. */
export function fitTemperature(cal: Calibration, k: number): number {
  const { count, exits, classes } = cal;
  const nll = (logT: number) => {
    const t = Math.exp(logT);
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const off = (i * exits + k) * classes;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, cal.logits[off + c]! / t);
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(cal.logits[off + c]! / t - max);
      sum += -(cal.logits[off + cal.labels[i]!]! / t - max - Math.log(z));
    }
    return sum / count;
  };
  let a = Math.log(0.25);
  let b = Math.log(8);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = nll(c);
  let fd = nll(d);
  // each step keeps one interior point (and its NLL) and evaluates one new one
  for (let it = 0; it < 40; it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = nll(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = nll(d);
    }
  }
  return Math.exp((a + b) / 2);
}
