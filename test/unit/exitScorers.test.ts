import { describe, expect, it } from "vitest";
import { fitTemperatures, makeScorer } from "../../src/scoring/exitScorers.js";
import { softmaxRow } from "../../src/scoring/softmax.js";
import { rng } from "../support/rng.js";

describe("exit scorers", () => {
  it("fits the temperature that calibrates over-confident logits", async () => {
    // labels drawn from softmax(z); the logits handed over are 3*z (over-confident): T ~ 3
    const r = rng(3);
    const count = 4000;
    const classes = 3;
    const logits = new Float32Array(count * classes);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const z = [r() * 4 - 2, r() * 4 - 2, r() * 4 - 2];
      const p = softmaxRow(Float32Array.from(z), 0, classes);
      const u = r();
      labels[i] = u < p[0]! ? 0 : u < p[0]! + p[1]! ? 1 : 2;
      z.forEach((v, c) => {
        logits[i * classes + c] = 3 * v;
      });
    }
    const [t] = await fitTemperatures({ count, exits: 1, classes, logits, labels });
    expect(t).toBeGreaterThan(2.6);
    expect(t).toBeLessThan(3.4);
  });

  it("ensemble averages the probabilities of the exits run so far", () => {
    const s = makeScorer("ensemble", []);
    const a = s.score(0, Float32Array.of(0, 0), 0, 2, undefined);
    expect(Array.from(a)).toEqual([0.5, 0.5]);
    const b = s.score(1, Float32Array.of(Math.log(3), 0), 0, 2, a); // softmax = [0.75, 0.25]
    expect(b[0]).toBeCloseTo((0.5 + 0.75) / 2, 6);
    const c = s.score(2, Float32Array.of(0, Math.log(3)), 0, 2, b); // softmax = [0.25, 0.75]
    expect(c[0]).toBeCloseTo((0.5 + 0.75 + 0.25) / 3, 6);
  });

  it("max-softmax is the plain softmax of the exit", () => {
    const p = makeScorer("max-softmax", []).score(1, Float32Array.of(9, 9, 0, Math.log(3)), 1, 2, Float32Array.of(1, 0));
    expect(p[1]).toBeCloseTo(0.75, 6);
  });
});
