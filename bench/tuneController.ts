/**
 * Chooses the budget controller's gain on the validation split, without a server: the real exit
 * policy (createBudget: the served scoring rule, its offline table, BudgetManager with the
 * controller) driven by the calibration file's validation logits through simulated serving
 * (test/support/budgetSimulation.ts: batches of 32, two batches in flight per stage, a
 * closed-loop client) in the adversarial orders of issue 11, at 1, 64 and 1,024 in flight and
 * 30/50/70% targets. Per gain it reports how many of those runs break a bound (whole-run mean
 * outside [0.95, 1.00] x target, or over 1% of 1,000-request windows above 1.02 x target, windows
 * within 500 requests after an abrupt shift excused), the worst window share, the range of means
 * and the i.i.d. accuracy. The test set is never read.
 *
 *   npm run tune:controller -- [--gain 0.5,1,1.5,2,3,4] [--model-dir models/ranet-fmnist] [--margin 0.01]
 */
import pino from "pino";
import { targetFlopsOf } from "../src/budget/budgetTarget.js";
import { createBudget } from "../src/budget/createBudget.js";
import { scoresFromLogits } from "../src/budget/thresholdTable.js";
import { loadCalibration } from "../src/format/calibration.js";
import { loadManifest } from "../src/format/manifest.js";
import { adversarialOrders, simulateServing, windowReport } from "../test/support/budgetSimulation.js";
import { arg, runMain } from "./lib/cli.js";

const TARGETS = [0.3, 0.5, 0.7];
const DEPTHS = [1, 64, 1024];

runMain(async () => {
  const manifest = await loadManifest(arg("model-dir", "models/ranet-fmnist"));
  const gains = arg("gain", "0.5,1,1.5,2,3,4").split(",").map(Number);
  const margin = Number(arg("margin", "0.01"));
  const cal = await loadCalibration(manifest);
  const exitFlops = manifest.exits.map((e) => e.flops);
  console.log(`validation split: ${cal.count} samples, ${cal.exits} exits; ${TARGETS.length} targets x ${DEPTHS.length} depths x 6 orders per gain\n`);
  console.log("| gain | runs breaking a bound | worst share of windows > 1.02 x target | mean / target | i.i.d. accuracy at 30 / 50 / 70%, 64 in flight |");
  console.log("|---:|---:|---:|---|---|");
  for (const gain of gains) {
    let failing = 0;
    let runs = 0;
    let worst = 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    const accuracy: string[] = [];
    const broken: string[] = [];
    for (const fraction of TARGETS) {
      const settings = { budgetTarget: fraction, exitScore: "auto" as const, controller: true, controllerGain: gain, controllerMargin: margin };
      const { budget, scorer } = await createBudget(manifest, settings, pino({ level: "silent" }));
      const scores = scoresFromLogits(cal, scorer);
      const target = targetFlopsOf(fraction, exitFlops);
      for (const depth of DEPTHS) {
        for (const o of adversarialOrders(scores)) {
          budget.setTarget(target); // a fresh controller for every run
          const answers = simulateServing(budget, scores, exitFlops, o.order, { inFlight: depth });
          const w = windowReport(answers.cost, target, o.shifts);
          runs++;
          worst = Math.max(worst, w.overShare);
          lo = Math.min(lo, w.meanOverTarget);
          hi = Math.max(hi, w.meanOverTarget);
          if (w.overShare > 0.01 || w.meanOverTarget > 1 || w.meanOverTarget < 0.95) {
            failing++;
            broken.push(`${fraction * 100}%/${depth}/${o.name}`);
          }
          if (o.name === "i.i.d." && depth === 64)
            accuracy.push(`${((100 * answers.correct.reduce((a, b) => a + b, 0)) / answers.correct.length).toFixed(2)}%`);
        }
      }
    }
    console.log(`| ${gain} | ${failing} of ${runs} | ${(100 * worst).toFixed(1)}% | ${lo.toFixed(3)} - ${hi.toFixed(3)} | ${accuracy.join(" / ")} |`);
    if (broken.length) console.error(`  gain ${gain} breaks: ${broken.slice(0, 8).join(", ")}${broken.length > 8 ? ", ..." : ""}`);
  }
});
