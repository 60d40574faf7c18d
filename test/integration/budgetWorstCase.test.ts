import pino from "pino";
import { describe, expect, it } from "vitest";
import { targetFlopsOf } from "../../src/budget/budgetTarget.js";
import { createBudget } from "../../src/budget/createBudget.js";
import { scoresFromLogits } from "../../src/budget/thresholdTable.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { loadCalibration } from "../../src/format/calibration.js";
import { loadManifest } from "../../src/format/manifest.js";
import { adversarialOrders, simulateServing, windowReport } from "../support/budgetSimulation.js";

/**
 * Worst-case harness (issue 11): the served exit policy at its default settings (createBudget:
 * scoring rule, offline table, controller and gain), driven by the bundled model's recorded
 * validation logits through simulated serving, in adversarial orders and at 1, 64 and 1,024
 * requests in flight. The same runs chose the gain (npm run tune:controller); the test set is
 * measured over gRPC by npm run eval:budget.
 */
describe("budget controller, worst-case orders on validation logits", async () => {
  const manifest = await loadManifest("models/repository/ranet-fmnist/1");
  const cal = await loadCalibration(manifest);
  const exitFlops = manifest.exits.map((e) => e.flops);
  const defaults = loadConfig([], {}) as Config;
  for (const fraction of [0.3, 0.5, 0.7]) {
    it(`${fraction * 100}% target: whole-run mean within [0.95, 1.00] x target, at most 1% of 1,000-request windows over 1.02 x target`, async () => {
      const { budget, scorer } = await createBudget(manifest, { ...defaults, budgetTarget: fraction }, pino({ level: "silent" }));
      const scores = scoresFromLogits(cal, scorer);
      const target = targetFlopsOf(fraction, exitFlops);
      const rows: string[] = [];
      for (const inFlight of [1, 64, 1024]) {
        for (const o of adversarialOrders(scores)) {
          budget.setTarget(target);
          const answers = simulateServing(budget, scores, exitFlops, o.order, { inFlight });
          const w = windowReport(answers.cost, target, o.shifts);
          rows.push(`${inFlight} in flight, ${o.name}: mean ${w.meanOverTarget.toFixed(3)}, over ${(100 * w.overShare).toFixed(1)}%`);
          expect(w.meanOverTarget, rows.at(-1)).toBeGreaterThanOrEqual(0.95);
          expect(w.meanOverTarget, rows.at(-1)).toBeLessThanOrEqual(1);
          expect(w.overShare, rows.at(-1)).toBeLessThanOrEqual(0.01);
        }
      }
    });
  }
});
