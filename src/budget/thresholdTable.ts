import type { Calibration } from "../format/calibration.js";
import type { ExitScorer } from "../scoring/exitScorers.js";
import { argmax, softmaxRow } from "../scoring/softmax.js";

/** Per-sample exit scores: confidence (max softmax) and prediction of every exit. */
export interface ExitScores {
  count: number;
  exits: number;
  /** conf[i * exits + k] */
  confidence: Float32Array;
  correct: Uint8Array;
}

export interface TablePoint {
  /** Geometric parameter: exit k receives a p^(k+1)-proportional share of the samples. */
  p: number;
  thresholds: number[];
  /** Expected multiply-adds per sample on the calibration split. */
  expectedFlops: number;
  accuracy: number;
}

/** Confidence and correctness of every exit for every sample, under a scoring rule (default max softmax). */
export function scoresFromLogits(cal: Calibration, scorer?: ExitScorer): ExitScores {
  const { count, exits, classes } = cal;
  const confidence = new Float32Array(count * exits);
  const correct = new Uint8Array(count * exits);
  for (let i = 0; i < count; i++) {
    let previous: Float32Array | undefined;
    for (let k = 0; k < exits; k++) {
      const probs = scorer ? scorer.score(k, cal.logits, i * exits + k, classes, previous) : softmaxRow(cal.logits, i * exits + k, classes);
      previous = probs;
      const cls = argmax(probs);
      confidence[i * exits + k] = probs[cls]!;
      correct[i * exits + k] = cls === cal.labels[i] ? 1 : 0;
    }
  }
  return { count, exits, confidence, correct };
}

/** Top-1 accuracy of every exit on its own. */
export function exitAccuracies(s: ExitScores): number[] {
  return Array.from({ length: s.exits }, (_, k) => {
    let right = 0;
    for (let i = 0; i < s.count; i++) right += s.correct[i * s.exits + k]!;
    return right / s.count;
  });
}

/** Exit index of sample i under thresholds (first k with confidence >= T_k). */
export function exitOf(s: ExitScores, i: number, thresholds: readonly number[]): number {
  for (let k = 0; k < s.exits - 1; k++) if (s.confidence[i * s.exits + k]! >= thresholds[k]!) return k;
  return s.exits - 1;
}

/** Accuracy and mean cost of applying thresholds to a scored set. */
export function evaluateThresholds(
  s: ExitScores,
  thresholds: readonly number[],
  exitFlops: readonly number[],
): { accuracy: number; expectedFlops: number; exitCounts: number[] } {
  let right = 0;
  let flops = 0;
  const exitCounts = new Array<number>(s.exits).fill(0);
  for (let i = 0; i < s.count; i++) {
    const k = exitOf(s, i, thresholds);
    exitCounts[k]!++;
    right += s.correct[i * s.exits + k]!;
    flops += exitFlops[k]!;
  }
  return { accuracy: right / s.count, expectedFlops: flops / s.count, exitCounts };
}

/** Mean final cost of the samples that reach each exit under `thresholds` (F_k where none does). */
export function reachedCosts(s: ExitScores, thresholds: readonly number[], exitFlops: readonly number[]): number[] {
  const sum = new Array<number>(s.exits).fill(0);
  const n = new Array<number>(s.exits).fill(0);
  for (let i = 0; i < s.count; i++) {
    const e = exitOf(s, i, thresholds);
    for (let k = 0; k <= e; k++) {
      sum[k]! += exitFlops[e]!;
      n[k]!++;
    }
  }
  return sum.map((x, k) => (n[k]! > 0 ? x / n[k]! : exitFlops[k]!));
}

/**
 * The reference budgeted-batch thresholds (MSDNet/RANet dynamic evaluation): for each p,
 * exit k takes the floor(n * p^(k+1)/sum) most confident samples not yet exited.
 */
export function thresholdsForP(s: ExitScores, p: number, orders: readonly Uint32Array[] = confidenceOrders(s)): number[] {
  const K = s.exits;
  const weights = Array.from({ length: K }, (_, k) => p ** (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const exited = new Uint8Array(s.count);
  const thresholds: number[] = [];
  for (let k = 0; k < K - 1; k++) {
    const n = Math.floor((s.count * weights[k]!) / total);
    // the n-th most confident sample at exit k among those still in the network
    let t = Number.POSITIVE_INFINITY;
    if (n > 0) {
      let seen = 0;
      for (const i of orders[k]!) {
        if (exited[i]) continue;
        if (++seen === n) {
          t = s.confidence[i * K + k]!;
          break;
        }
      }
    }
    thresholds.push(t);
    for (let i = 0; i < s.count; i++) if (s.confidence[i * K + k]! >= t) exited[i] = 1;
  }
  thresholds.push(Number.NEGATIVE_INFINITY);
  return thresholds;
}

/** Per exit, the sample indices by descending confidence at that exit (sorted once per table). */
export function confidenceOrders(s: ExitScores): Uint32Array[] {
  const K = s.exits;
  return Array.from({ length: K }, (_, k) =>
    Uint32Array.from({ length: s.count }, (_, i) => i).sort((a, b) => s.confidence[b * K + k]! - s.confidence[a * K + k]! || a - b),
  );
}

/** p = 0.05, 0.10, ..., 1.95 with each point's expected FLOPs and accuracy, cheapest first. */
export function offlineTable(s: ExitScores, exitFlops: readonly number[]): TablePoint[] {
  const points: TablePoint[] = [];
  const orders = confidenceOrders(s);
  for (let i = 1; i <= 39; i++) {
    const p = Math.round(i * 5) / 100;
    const thresholds = thresholdsForP(s, p, orders);
    const { accuracy, expectedFlops } = evaluateThresholds(s, thresholds, exitFlops);
    points.push({ p, thresholds, expectedFlops, accuracy });
  }
  return points.sort((a, b) => a.expectedFlops - b.expectedFlops);
}

/** The most accurate table point whose expected cost fits the budget (else the cheapest). */
export function pointForBudget(table: readonly TablePoint[], budgetFlops: number): TablePoint {
  let best: TablePoint | undefined;
  for (const pt of table) if (pt.expectedFlops <= budgetFlops && (!best || pt.accuracy > best.accuracy)) best = pt;
  return best ?? table[0]!;
}

/**
 * Budgeted oracle (upper bound): every sample pays exit 1; a sample whose first correct exit
 * is k costs F_k - F_1 more; samples are admitted cheapest first while the budget lasts.
 * Returns the accuracy at each requested mean budget.
 */
export function oracleAccuracy(s: ExitScores, exitFlops: readonly number[], budgets: readonly number[]): number[] {
  const extra: number[] = [];
  for (let i = 0; i < s.count; i++) {
    for (let k = 0; k < s.exits; k++) {
      if (s.correct[i * s.exits + k]) {
        extra.push(exitFlops[k]! - exitFlops[0]!);
        break;
      }
    }
  }
  extra.sort((a, b) => a - b);
  return budgets.map((b) => {
    let left = s.count * (b - exitFlops[0]!);
    if (left < 0) return 0;
    let n = 0;
    for (const e of extra) {
      if (e > left) break;
      left -= e;
      n++;
    }
    return n / s.count;
  });
}

/** Accuracy at `flops` by linear interpolation along a cost-sorted curve (clamped at its ends). */
export function accuracyAtFlops(curve: readonly { expectedFlops: number; accuracy: number }[], flops: number): number {
  const pts = [...curve].sort((a, b) => a.expectedFlops - b.expectedFlops);
  if (flops <= pts[0]!.expectedFlops) return pts[0]!.accuracy;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (flops <= b.expectedFlops) {
      const span = b.expectedFlops - a.expectedFlops;
      return span > 0 ? a.accuracy + ((b.accuracy - a.accuracy) * (flops - a.expectedFlops)) / span : b.accuracy;
    }
  }
  return pts[pts.length - 1]!.accuracy;
}
