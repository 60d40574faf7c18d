import pino from "pino";
import { describe, expect, it } from "vitest";
import { BudgetManager, type BudgetMode } from "../../src/budget/BudgetManager.js";
import { type ExitScores, offlineTable } from "../../src/budget/thresholdTable.js";

// 200 samples, 3 exits, exit-1 and exit-2 confidences spread over (0.3, 1), right when over 0.6;
// the last exit is always right (so deeper points are more accurate)
const n = 200;
const conf = Array.from({ length: n }, (_, i) => [0.3 + (0.7 * ((i * 37) % n)) / n, 0.3 + (0.7 * ((i * 53) % n)) / n, 0.99]);
const scores: ExitScores = {
  count: n,
  exits: 3,
  confidence: Float32Array.from(conf.flat()),
  correct: Uint8Array.from(conf.flat().map((c, j) => (j % 3 === 2 || c > 0.6 ? 1 : 0))),
};
const exitFlops = [10, 20, 30];
const table = offlineTable(scores, exitFlops);
const log = pino({ level: "silent" });
const make = (mode: BudgetMode) =>
  new BudgetManager({ exitFlops, mode, targetFlops: 24, table, fixedThresholds: mode === "fixed" ? [0.5, 0.5, 0] : undefined, log });

describe("BudgetManager load factor", () => {
  it("controller mode: the lowered target pulls the knob down, the operator's target stays", () => {
    const full = make("controller");
    const lowered = make("controller");
    lowered.setLoadFactor(0.5);
    for (let i = 0; i < 50; i++) {
      // 24 multiply-adds a request (between exits 2 and 3), charged nothing: the cost alone moves the knob
      full.observe({ exit: 2, flops: 24, chargedFlops: 0, path: "fused" });
      lowered.observe({ exit: 2, flops: 24, chargedFlops: 0, path: "fused" }); // spending the operator's target is overspending 12
    }
    expect(full.status().knob).toBeCloseTo((-0.5 * 50 * (24 * 0.01)) / 30, 6); // at target: only the 1% margin moves it
    expect(lowered.status().knob).toBeLessThan(-1);
    expect(lowered.status()).toMatchObject({ targetFlops: 24, loadFactor: 0.5 });
    expect(lowered.thresholds()[0]).toBeLessThan(full.thresholds()[0]!);
  });

  it("offline mode: re-picks the table point for the lowered target, and back", () => {
    const b = make("offline");
    const before = b.thresholds()[0]!;
    b.setLoadFactor(0.5);
    expect(b.thresholds()[0]).toBeLessThan(before);
    b.setLoadFactor(1);
    expect(b.thresholds()[0]).toBe(before);
  });

  it("a new operator target keeps the load factor in force", () => {
    const b = make("offline");
    b.setLoadFactor(0.5);
    b.setTarget(28);
    expect(b.status()).toMatchObject({ targetFlops: 28, loadFactor: 0.5 });
    expect(b.status().point!.expectedFlops).toBeLessThanOrEqual(14);
  });

  it("fixed thresholds ignore it", () => {
    const b = make("fixed");
    b.setLoadFactor(0.5);
    expect(b.thresholds()).toEqual([0.5, 0.5, 0]);
    expect(b.status().loadFactor).toBe(1);
  });
});

describe("BudgetManager and exits decided in the engine (exitDecisionsInEngine auto)", () => {
  it("fixed and offline thresholds allow it; the controller up to half the last exit's FLOPs, counting the load factor", () => {
    expect(make("fixed").engineMayDecide()).toBe(true);
    expect(make("offline").engineMayDecide()).toBe(true);
    const c = make("controller"); // 24 of 30: 80%
    expect(c.engineMayDecide()).toBe(false);
    c.setLoadFactor(0.625); // 15 in force: 50%
    expect(c.engineMayDecide()).toBe(true);
    c.setLoadFactor(1);
    c.setTarget(15);
    expect(c.engineMayDecide()).toBe(true);
  });
});
