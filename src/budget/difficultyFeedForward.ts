import { type ExitScores, exitOf } from "./thresholdTable.js";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Knob values the feed-forward table is computed on (logit units, step 1/4). */
export const KNOB_GRID = Array.from({ length: 97 }, (_, j) => -12 + j / 4);

/** Thresholds at knob theta: every base threshold shifted by theta in logit space (the last exit takes everything). */
export function shiftedThresholds(baseLogits: readonly number[], theta: number): number[] {
  return [...baseLogits.map((l) => sigmoid(l + theta)), Number.NEGATIVE_INFINITY];
}

/**
 * Feed-forward estimate of the knob that spends the setpoint on the traffic seen lately.
 *
 * Every request shows its difficulty at the first exit (its confidence there), long before it is
 * answered. The calibration (validation) samples are grouped by that confidence into quantile
 * bins, and for each bin and each knob value on KNOB_GRID the table holds the bin's mean cost.
 * The traffic's difficulty mix is the histogram of the last `window` first-exit confidences; its
 * predicted cost at knob theta is the histogram-weighted mean of the bins' costs, and `solve`
 * returns the knob at which that prediction meets the setpoint. A drift to harder (or easier)
 * inputs moves the histogram, and the knob follows within `window` requests, before their cost
 * is known. What the calibration cannot predict (inputs harder at later exits than their first
 * exit says) is left to the controller's integral term.
 *
 * It also fits the knob's useful range: `lowest` is the knob at which every calibration sample
 * leaves at the first exit, `highest` the one above which no calibration sample moves deeper.
 */
export class DifficultyFeedForward {
  /** Upper edges of the bins (first-exit confidence), ascending; the last bin is open. */
  private readonly edges: number[];
  /** costs[b * grid + j]: bin b's mean cost at KNOB_GRID[j]. */
  private readonly costs: Float64Array;
  private readonly ring: Uint16Array;
  private readonly counts: Float64Array;
  /** Share of calibration samples per bin. */
  private readonly prior: Float64Array;
  private filled = 0;
  private head = 0;
  readonly lowest: number;
  readonly highest: number;

  constructor(
    scores: ExitScores,
    baseLogits: readonly number[],
    exitFlops: readonly number[],
    readonly window = 224,
    bins = 24,
  ) {
    const K = scores.exits;
    const first = Float64Array.from({ length: scores.count }, (_, i) => scores.confidence[i * K]!).sort();
    const edges = new Set<number>();
    for (let b = 1; b < bins; b++) edges.add(first[Math.floor((b * first.length) / bins)]!);
    this.edges = [...edges].sort((a, b) => a - b);
    const nb = this.edges.length + 1;
    const grid = KNOB_GRID.length;
    this.costs = new Float64Array(nb * grid);
    const members = new Float64Array(nb);
    const thresholds = KNOB_GRID.map((theta) => shiftedThresholds(baseLogits, theta));
    const total = new Float64Array(grid);
    for (let i = 0; i < scores.count; i++) {
      const b = this.binOf(scores.confidence[i * K]!);
      members[b]!++;
      for (let j = 0; j < grid; j++) {
        const c = exitFlops[exitOf(scores, i, thresholds[j]!)]!;
        this.costs[b * grid + j]! += c;
        total[j]! += c;
      }
    }
    for (let b = 0; b < nb; b++) for (let j = 0; j < grid; j++) if (members[b]! > 0) this.costs[b * grid + j]! /= members[b]!;
    let lowestJ = 0;
    while (lowestJ + 1 < grid && total[lowestJ + 1] === total[0]) lowestJ++;
    let highestJ = grid - 1;
    while (highestJ > 0 && total[highestJ - 1] === total[grid - 1]) highestJ--;
    this.lowest = KNOB_GRID[lowestJ]!;
    this.highest = KNOB_GRID[highestJ]!;
    this.ring = new Uint16Array(window);
    this.counts = new Float64Array(nb);
    this.prior = Float64Array.from(members, (m) => m / scores.count);
  }

  private binOf(confidence: number): number {
    let lo = 0;
    let hi = this.edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (confidence < this.edges[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Records one request's first-exit confidence. */
  add(confidence: number): void {
    const b = this.binOf(confidence);
    if (this.filled < this.window) this.filled++;
    else this.counts[this.ring[this.head]!]!--;
    this.ring[this.head] = b;
    this.counts[b]!++;
    this.head = (this.head + 1) % this.window;
  }

  /** Predicted mean cost of the recent traffic at each KNOB_GRID value. */
  predictedCosts(): Float64Array {
    const grid = KNOB_GRID.length;
    const out = new Float64Array(grid);
    // until the window has filled, the calibration mix stands in for the requests not seen yet
    const priorWeight = (this.window - this.filled) / this.window;
    for (let b = 0; b < this.counts.length; b++) {
      const w = this.counts[b]! / this.window + priorWeight * this.prior[b]!;
      if (w === 0) continue;
      for (let j = 0; j < grid; j++) out[j]! += w * this.costs[b * grid + j]!;
    }
    return out;
  }

  /** The knob at which the recent traffic's predicted cost meets `setpoint` (clamped to [lowest, highest]). */
  solve(setpoint: number): number {
    const cost = this.predictedCosts();
    let j = 0;
    while (j < cost.length && cost[j]! < setpoint) j++;
    let theta: number;
    if (j === 0) theta = KNOB_GRID[0]!;
    else if (j === cost.length) theta = KNOB_GRID[cost.length - 1]!;
    else {
      const a = cost[j - 1]!;
      const b = cost[j]!;
      theta = KNOB_GRID[j - 1]! + (0.25 * (setpoint - a)) / (b - a);
    }
    return Math.min(this.highest, Math.max(this.lowest, theta));
  }
}
