import { describe, expect, it } from "vitest";
import { BudgetController } from "../../src/budget/BudgetController.js";
import { ThresholdBoard } from "../../src/engine/ThresholdBoard.js";
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

/** One request through the exits, one decision at a time (charges at commit, cost at answer). */
function serve(ctrl: BudgetController, conf: number[]): number {
  let charged = 0;
  for (let k = 0; k < FLOPS.length; k++) {
    ctrl.exitScored(k, conf[k]!);
    if (k === FLOPS.length - 1 || conf[k]! >= ctrl.thresholds()[k]!) {
      ctrl.observe({ exit: k, flops: FLOPS[k]!, chargedFlops: charged, path: "staged" });
      return FLOPS[k]!;
    }
    charged += ctrl.advanced(k);
  }
  throw new Error("unreachable");
}

function run(ctrl: BudgetController, hardness: (i: number) => number, n: number, seed = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => serve(ctrl, sample(hardness(i), r)));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const windows = (xs: number[], w: number) =>
  Array.from({ length: xs.length - w + 1 }, (_, i) => i)
    .filter((i) => i % 50 === 0)
    .map((i) => mean(xs.slice(i, i + w)));
const base = [0.9, 0.9, 0.9, 0.9, 0.9];
/** The worst run of answers: the largest sum of cost errors over any contiguous stretch. */
function worstRun(errors: readonly number[]): number {
  let best = 0;
  let run = 0;
  for (const e of errors) {
    run = Math.max(0, run + e);
    best = Math.max(best, run);
  }
  return best;
}

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
      // mean - setpoint <= ((W + 1) F_K / gain + P_max) / T, W = 24 (range 12 both ways), P_max <= 2 F_K (one request in flight)
      expect(m - setpoint).toBeLessThanOrEqual(((24 + 1) * LAST) / (0.5 * n) + (2 * LAST) / n);
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
      // the last exit uncharged: as the fused path answers it
      ctrl.observe(c === LAST ? { exit: FLOPS.length - 1, flops: c, chargedFlops: 0, path: "fused" } : { exit: 0, flops: c, chargedFlops: 0, path: "staged" });
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
    ctrl.observe({ exit: FLOPS.length - 1, flops: LAST, chargedFlops: 0, path: "fused" }); // overspend: thresholds must drop
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

  it("commit-time charges lower the knob before any answer; answering or withdrawing releases them", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 8 });
    const k0 = ctrl.knob;
    const charge = ctrl.advanced(0);
    expect(charge).toBeGreaterThanOrEqual(FLOPS[1]! - FLOPS[0]!);
    expect(ctrl.knob).toBeCloseTo(k0 - (0.5 * charge) / LAST, 9);
    expect(ctrl.pendingFlops).toBe(charge);
    ctrl.withdrawn(charge);
    expect(ctrl.knob).toBeCloseTo(k0, 9);
    const c2 = ctrl.advanced(0);
    ctrl.observe({ exit: 1, flops: FLOPS[1]!, chargedFlops: c2, path: "staged" }); // answered at exit 2: only the error against the setpoint stays
    expect(ctrl.pendingFlops).toBe(0);
    expect(ctrl.knob).toBeCloseTo(k0 - (0.5 * (FLOPS[1]! - 8 * 0.99)) / LAST, 9);
  });

  it("sum (c - B) over any run of answered requests stays within (W + 1) F_K / gain + P_max, with up to 50 in flight in random order", () => {
    const r = rng(3);
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 0.4 * LAST });
    const setpoint = 0.4 * LAST * 0.99;
    const inflight: { conf: number[]; k: number; charged: number }[] = [];
    const errors: number[] = [];
    let pendingMax = 0;
    for (let step = 0; step < 40_000; step++) {
      if (inflight.length < 50 && r() < 0.5) inflight.push({ conf: sample(r() < 0.5 ? 0.1 : 0.95, r), k: 0, charged: 0 });
      if (inflight.length === 0) continue;
      const j = Math.floor(r() * inflight.length);
      const q = inflight[j]!;
      ctrl.exitScored(q.k, q.conf[q.k]!);
      if (q.k === FLOPS.length - 1 || q.conf[q.k]! >= ctrl.thresholds()[q.k]!) {
        ctrl.observe({ exit: q.k, flops: FLOPS[q.k]!, chargedFlops: q.charged, path: "staged" });
        errors.push(FLOPS[q.k]! - setpoint);
        inflight.splice(j, 1);
      } else {
        q.charged += ctrl.advanced(q.k);
        q.k++;
      }
      pendingMax = Math.max(pendingMax, ctrl.pendingFlops);
    }
    expect(errors.length).toBeGreaterThan(10_000);
    expect(worstRun(errors)).toBeLessThanOrEqual(((24 + 1) * LAST) / 0.5 + pendingMax);
  });
});

describe("BudgetController with exits decided in the engine (ThresholdBoard)", () => {
  it("counts the engine's running charges as pending: in its thresholds, in its status, and gone when released", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 8 });
    const twin = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 8 });
    let running = 0;
    ctrl.countRunning(() => running);
    running = twin.advanced(0) + twin.advanced(1);
    expect(ctrl.thresholds()).toEqual(twin.thresholds());
    expect(ctrl.knob).toBeCloseTo(twin.knob, 12);
    expect(ctrl.runningFlops).toBe(running);
    expect(ctrl.thresholdRule().thresholds).not.toEqual(twin.thresholds()); // the engine counts its running charges itself
    running = 0;
    expect(ctrl.thresholds()).toEqual(new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 8 }).thresholds());
  });

  it("sum (c - B) stays within (W + 1) F_K / gain + P_max when two engine workers decide later exits in chains and their answers are heard together", () => {
    const r = rng(5);
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 0.4 * LAST });
    const board = ThresholdBoard.create(FLOPS.length, 2, 1);
    ctrl.countRunning(() => board.running(0));
    board.publish(0, ctrl.thresholdRule());
    const setpoint = 0.4 * LAST * 0.99;
    const errors: number[] = [];
    let pendingMax = 0;
    type Req = { conf: number[]; k: number; charged: number; chain: number[]; exit?: number };
    const chains: { worker: number; reqs: Req[] }[] = [];
    for (let step = 0; step < 3000; step++) {
      // a first-exit batch decided here
      const forwarded: Req[] = [];
      for (let i = 0; i < 1 + Math.floor(r() * 8); i++) {
        const q: Req = { conf: sample(r() < 0.5 ? 0.1 : 0.95, r), k: 0, charged: 0, chain: [] };
        ctrl.exitScored(0, q.conf[0]!);
        if (q.conf[0]! >= ctrl.thresholds()[0]!) {
          ctrl.observe({ exit: 0, flops: FLOPS[0]!, chargedFlops: 0, path: "staged" });
          errors.push(FLOPS[0]! - setpoint);
        } else {
          q.charged += ctrl.advanced(0);
          q.k = 1;
          forwarded.push(q);
        }
      }
      board.publish(0, ctrl.thresholdRule());
      if (forwarded.length) chains.push({ worker: step % 2, reqs: forwarded });
      // an engine worker runs one stage of a chain: decides on the board, releases what answers
      const c = chains[Math.floor(r() * chains.length)];
      if (c) {
        for (const q of c.reqs.filter((q) => q.exit === undefined)) {
          if (q.k === FLOPS.length - 1 || q.conf[q.k]! >= board.threshold(0, q.k)) {
            q.exit = q.k;
            board.release(
              0,
              c.worker,
              q.chain.reduce((a, b) => a + b, 0),
            );
          } else {
            q.chain.push(board.charge(0, c.worker, q.k));
            q.k++;
          }
        }
        if (c.reqs.every((q) => q.exit !== undefined)) {
          // the chain's answers: decisions replayed, then heard together
          chains.splice(chains.indexOf(c), 1);
          for (const q of c.reqs) for (let k = 1; k < q.exit!; k++) q.charged += ctrl.advanced(k);
          ctrl.observeAll(c.reqs.map((q) => ({ exit: q.exit!, flops: FLOPS[q.exit!]!, chargedFlops: q.charged, path: "staged" as const })));
          for (const q of c.reqs) errors.push(FLOPS[q.exit!]! - setpoint);
          board.publish(0, ctrl.thresholdRule());
        }
      }
      pendingMax = Math.max(pendingMax, ctrl.pendingFlops + ctrl.runningFlops);
    }
    expect(errors.length).toBeGreaterThan(5_000);
    expect(worstRun(errors)).toBeLessThanOrEqual(((24 + 1) * LAST) / 0.5 + pendingMax);
    expect(Math.abs(mean(errors))).toBeLessThan(0.1 * setpoint);
  });
});

describe("BudgetController with validation scores (feed-forward, fitted range)", () => {
  // a scored set like the bundled model's: a share of inputs is certain at exit 1 (confidence 1)
  const r = rng(11);
  const n = 4000;
  const conf: number[] = [];
  for (let i = 0; i < n; i++) conf.push(...(i % 25 === 0 ? FLOPS.map(() => 1) : sample(r(), r)));
  const scores = { count: n, exits: FLOPS.length, confidence: Float32Array.from(conf), correct: new Uint8Array(n * FLOPS.length).fill(1) };
  const certain = FLOPS.map(() => 1);

  it("does not wind up on inputs it cannot spend the target on, so hard inputs after them cause no burst", () => {
    const target = 0.5 * LAST;
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: target, scores });
    for (let i = 0; i < 3000; i++) serve(ctrl, certain);
    const { integral, lowest, highest } = ctrl.knobTerms;
    expect(ctrl.knob).toBeLessThanOrEqual(highest + 1e-9);
    expect(integral).toBeLessThanOrEqual(highest - lowest);
    const rr = rng(5);
    const costs = Array.from({ length: 3000 }, () => serve(ctrl, sample(0.95, rr)));
    const worst = Math.max(...windows(costs, 1000));
    expect(worst).toBeLessThanOrEqual(1.02 * target);
  });

  it("the feed-forward term moves the knob on first-exit scores alone, before any cost is observed", () => {
    const ctrl = new BudgetController({ exitFlops: FLOPS, baseThresholds: base, targetFlops: 0.5 * LAST, scores });
    const k0 = ctrl.knob;
    const rr = rng(6);
    for (let i = 0; i < 500; i++) ctrl.exitScored(0, sample(0.95, rr)[0]!);
    expect(ctrl.knobTerms.integral).toBe(0);
    expect(ctrl.knob).toBeLessThan(k0 - 0.5); // harder traffic: lower thresholds for the same spend
  });
});
