import { describe, expect, it } from "vitest";
import { BudgetController } from "../../src/budget/BudgetController.js";
import { rng } from "../support/rng.js";

const FLOPS = [4, 8, 11, 12, 15, 16];
const LAST = 16;

/** A sample of given hardness h in [0,1]: exit-k confidence rises with k and falls with h. */
function sample(h: number, r: () => number): number[] {
  return FLOPS.map((_, k) => {
    const z = 3 * (1 - h) + 0.6 * k - 1.5 + 0.8 * (r() - 0.5);
    return 1 / (1 + Math.exp(-z));
  });
}

function exitCost(ctrl: BudgetController, conf: number[]): number {
  const t = ctrl.thresholds();
  for (let k = 0; k < FLOPS.length - 1; k++) if (conf[k]! >= t[k]!) return FLOPS[k]!;
  return LAST;
}

function run(ctrl: BudgetController, hardness: (i: number) => number, n: number, seed = 1): number[] {
  const r = rng(seed);
  const costs: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = exitCost(ctrl, sample(hardness(i), r));
    ctrl.observe(c);
    costs.push(c);
  }
  return costs;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const windows = (xs: number[], w: number) =>
  Array.from({ length: xs.length - w + 1 }, (_, i) => i)
    .filter((i) => i % 50 === 0)
    .map((i) => mean(xs.slice(i, i + w)));
const base = [0.9, 0.9, 0.9, 0.9, 0.9];

describe("BudgetController", () => {
  for (const [name, hardness] of [
    ["stationary (i.i.d.)", (_: number) => 0.5],
    ["sudden shift to hard inputs", (i: number) => (i < 5000 ? 0.2 : 0.9)],
    ["alternating easy/hard blocks", (i: number) => (Math.floor(i / 2000) % 2 ? 0.85 : 0.15)],
  ] as const) {
    it(`${name}: long-run mean at or just under the target, within the proven bound`, () => {
      const target = 0.5 * LAST;
      const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: target });
      const n = 20_000;
      const costs = run(ctrl, hardness, n);
      const m = mean(costs);
      const setpoint = target * (1 - 0.01);
      // |mean - setpoint| <= 2 * range * F_K / (gain * T) = 2*12*16/(0.4*20000) = 0.048
      expect(Math.abs(m - setpoint)).toBeLessThanOrEqual((2 * 12 * LAST) / (0.4 * n));
      expect(m).toBeLessThanOrEqual(target);
      expect(m).toBeGreaterThan(0.97 * target);
    });
  }

  it("after a shift, 1000-request windows come back within 2% of the target", () => {
    const target = 0.5 * LAST;
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: target });
    const costs = run(ctrl, (i) => (i < 5000 ? 0.2 : 0.9), 15_000);
    const after = windows(costs.slice(5500), 1000);
    const over = after.filter((w) => w > 1.02 * target).length;
    expect(over / after.length).toBeLessThanOrEqual(0.01);
  });

  it("all-easy input the target cannot be spent on: saturates at the upper bound, stays under target", () => {
    const target = 0.5 * LAST;
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: target });
    // every sample certain at exit 1: even thresholds near 1 let it leave there
    const costs: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = ctrl.thresholds();
      const c = 1 - 1e-9 >= t[0]! ? FLOPS[0]! : LAST;
      ctrl.observe(c);
      costs.push(c);
    }
    expect(ctrl.knob).toBeLessThanOrEqual(12);
    expect(mean(costs)).toBeLessThanOrEqual(target);
  });

  it("all-hard input: goes down to the cheapest thresholds and holds the target", () => {
    const target = 0.3 * LAST;
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: target });
    const costs = run(ctrl, () => 1, 20_000);
    expect(mean(costs.slice(2000))).toBeLessThanOrEqual(target * 1.005);
    expect(ctrl.knob).toBeGreaterThan(-12);
  });

  it("a target below the first exit's cost saturates at the lower bound (every sample at exit 1)", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 2 });
    run(ctrl, () => 0.5, 2000);
    expect(ctrl.knob).toBe(-12);
    expect(ctrl.thresholds()[0]).toBeLessThan(1e-3);
  });

  it("thresholds move monotonically with the knob and the last exit always takes everything", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 8 });
    const before = [...ctrl.thresholds()];
    ctrl.observe(LAST); // overspend: thresholds must drop
    const after = ctrl.thresholds();
    after.slice(0, -1).forEach((t, k) => {
      expect(t).toBeLessThan(before[k]!);
    });
    expect(after[after.length - 1]).toBe(Number.NEGATIVE_INFINITY);
  });

  it("setTarget changes the setpoint at run time", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 0.7 * LAST });
    run(ctrl, () => 0.5, 5000);
    ctrl.setTarget(0.3 * LAST);
    const costs = run(ctrl, () => 0.5, 10_000, 7);
    expect(mean(costs.slice(2000))).toBeLessThanOrEqual(0.3 * LAST);
    expect(mean(costs.slice(2000))).toBeGreaterThan(0.97 * 0.3 * LAST);
  });
});
