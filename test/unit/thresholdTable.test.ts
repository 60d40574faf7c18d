import { describe, expect, it } from "vitest";
import {
  type ExitScores,
  evaluateThresholds,
  exitOf,
  offlineTable,
  oracleAccuracy,
  pointForBudget,
  scoresFromLogits,
  thresholdsForP,
} from "../../src/budget/thresholdTable.js";

function scores(conf: number[][], correct: number[][]): ExitScores {
  const exits = conf[0]!.length;
  return { count: conf.length, exits, confidence: Float32Array.from(conf.flat()), correct: Uint8Array.from(correct.flat()) };
}

describe("reference budgeted-batch thresholds", () => {
  // 10 samples, 2 exits; exit-1 confidences 0.95, 0.9, ..., 0.5
  const conf = Array.from({ length: 10 }, (_, i) => [0.95 - 0.05 * i, 0.99]);
  const correct = Array.from({ length: 10 }, (_, i) => [i < 5 ? 1 : 0, 1]);
  const s = scores(conf, correct);

  it("gives exit k the floor(n * p^k / sum) most confident remaining samples", () => {
    // p = 1: each of 2 exits gets half: T_1 is the 5th highest exit-1 confidence
    const t = thresholdsForP(s, 1);
    expect(t[0]).toBeCloseTo(0.75, 6);
    expect(t[1]).toBe(Number.NEGATIVE_INFINITY);
    expect([...Array(10).keys()].map((i) => exitOf(s, i, t))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it("sends nothing to an exit whose share rounds to zero", () => {
    // one sample, p = 1.95: exit 1's share is 1/2.95 of a sample, floor -> 0
    const none = thresholdsForP(scores([[0.9, 0.9]], [[1, 1]]), 1.95);
    expect(none[0]).toBe(Number.POSITIVE_INFINITY);
  });

  it("evaluates accuracy and expected FLOPs of a threshold vector", () => {
    const r = evaluateThresholds(s, [0.75, Number.NEGATIVE_INFINITY], [10, 30]);
    expect(r.accuracy).toBe(1);
    expect(r.expectedFlops).toBe(20);
    expect(r.exitCounts).toEqual([5, 5]);
  });

  it("builds a table sorted by cost and picks the best point within a budget", () => {
    const table = offlineTable(s, [10, 30]);
    expect(table).toHaveLength(39);
    table.slice(1).forEach((pt, i) => {
      expect(pt.expectedFlops).toBeGreaterThanOrEqual(table[i]!.expectedFlops);
    });
    const pt = pointForBudget(table, 20);
    expect(pt.expectedFlops).toBeLessThanOrEqual(20);
    expect(pt.accuracy).toBe(1);
    expect(pointForBudget(table, 1)).toBe(table[0]);
  });

  it("the oracle admits the cheapest corrections first", () => {
    // 5 samples right at exit 1 (extra 0), 5 need exit 2 (extra 20 each)
    expect(oracleAccuracy(s, [10, 30], [10, 20, 30, 5])).toEqual([0.5, 1, 1, 0]);
  });

  it("scores logits with softmax confidence and correctness", () => {
    const sc = scoresFromLogits({ count: 1, exits: 2, classes: 2, logits: Float32Array.of(0, Math.log(3), 5, 0), labels: Int32Array.of(1) });
    expect(sc.confidence[0]).toBeCloseTo(0.75, 6);
    expect([...sc.correct]).toEqual([1, 0]);
  });
});
