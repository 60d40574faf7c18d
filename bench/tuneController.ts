/**
 * Chooses the budget controller's gain and feed-forward window on the validation split, without a server: the real exit
 * policy (createBudget: the served scoring rule, its offline table, BudgetManager with the
 * controller) driven by the calibration file's validation logits through simulated serving
 * (test/support/budgetSimulation.ts: batches of 32, two batches in flight per stage, a
 * closed-loop client) in the adversarial orders of eval:budget, at 1, 64 and 1,024 in flight and
 * 30/50/70% targets. Per gain and window it reports how many of those runs break a bound (whole-run mean
 * outside [0.95, 1.00] x target, or over 1% of 1,000-request windows above 1.02 x target, windows
 * within 500 requests after an abrupt shift excused), the worst window share, the range of means
 * and the i.i.d. accuracy. The test set is never read.
 *
 *   npm run tune:controller -- [--gain 0.25,0.5,1,2] [--window 128,192,256] [--model-dir models/repository/ranet-fmnist/1] [--margin 0.01]
 *   npm run tune:controller -- --server [--gain 0.5] [--window 224] [--in-flight 64,1024]
 *
 * With --server the same orders of the validation images themselves (the training-file
 * positions listed in the calibration file), plus blocks of corrupted inputs, are streamed
 * through a real server per gain over ClassifyStream at --in-flight 64,1024: the queueing and
 * batching of the real pipeline, which the simulation only approximates.
 */

import pino from "pino";
import { targetFlopsOf } from "../src/budget/budgetTarget.js";
import { createBudget } from "../src/budget/createBudget.js";
import { scoresFromLogits } from "../src/budget/thresholdTable.js";
import { makeClients, unary } from "../src/cli/clients.js";
import { loadCalibration } from "../src/format/calibration.js";
import { loadManifest } from "../src/format/manifest.js";
import { adversarialOrders, simulateServing, windowReport, withinBounds } from "../test/support/budgetSimulation.js";
import { startBenchServer } from "./lib/benchServer.js";
import { streamAll, validationStreams } from "./lib/budgetStreams.js";
import { arg, runMain } from "./lib/cli.js";

const TARGETS = [0.3, 0.5, 0.7];
const DEPTHS = [1, 64, 1024];

runMain(async () => {
  if (process.argv.includes("--server")) return tuneOnServer();
  const manifest = await loadManifest(arg("model-dir", "models/repository/ranet-fmnist/1"));
  const gains = arg("gain", "0.25,0.5,1,2").split(",").map(Number);
  const windows = arg("window", "128,192,256").split(",").map(Number);
  const margin = Number(arg("margin", "0.01"));
  const cal = await loadCalibration(manifest);
  const exitFlops = manifest.exits.map((e) => e.flops);
  console.log(`validation split: ${cal.count} samples, ${cal.exits} exits; ${TARGETS.length} targets x ${DEPTHS.length} depths x 6 orders per gain\n`);
  console.log(
    "| gain | window | runs breaking a bound | worst share of windows > 1.02 x target | mean / target | i.i.d. accuracy at 30 / 50 / 70%, 64 in flight |",
  );
  console.log("|---:|---:|---:|---:|---|---|");
  for (const gain of gains)
    for (const window of windows) {
      let failing = 0;
      let runs = 0;
      let worst = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = 0;
      const accuracy: string[] = [];
      const broken: string[] = [];
      for (const fraction of TARGETS) {
        const settings = {
          budgetTarget: fraction,
          exitScore: "auto" as const,
          controller: true,
          controllerGain: gain,
          controllerMargin: margin,
          controllerWindow: window,
        };
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
            if (!withinBounds(w)) {
              failing++;
              broken.push(`${fraction * 100}%/${depth}/${o.name}`);
            }
            if (o.name === "i.i.d." && depth === 64)
              accuracy.push(`${((100 * answers.correct.reduce((a, b) => a + b, 0)) / answers.correct.length).toFixed(2)}%`);
          }
        }
      }
      console.log(
        `| ${gain} | ${window} | ${failing} of ${runs} | ${(100 * worst).toFixed(1)}% | ${lo.toFixed(3)} - ${hi.toFixed(3)} | ${accuracy.join(" / ")} |`,
      );
      if (broken.length) console.error(`  gain ${gain}, window ${window} breaks: ${broken.slice(0, 8).join(", ")}${broken.length > 8 ? ", ..." : ""}`);
    }
});

async function tuneOnServer(): Promise<void> {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const { manifest, count, streams } = await validationStreams(modelDir);
  const exitFlops = manifest.exits.map((e) => e.flops);
  const depths = arg("in-flight", "64,1024").split(",").map(Number);
  const gains = arg("gain", "0.5").split(",");
  const windows = arg("window", "224").split(",");
  console.log(`validation images through the server: ${count}; ${TARGETS.length} targets x ${depths.length} depths x ${streams.length} orders per gain\n`);
  for (const gain of gains)
    for (const window of windows) {
      const server = await startBenchServer([
        "--model-dir",
        modelDir,
        "--max-queue-wait-ms",
        "0",
        "--max-stream-inflight",
        String(Math.max(...depths)),
        "--controller-gain",
        gain,
        "--controller-window",
        window,
      ]);
      const admin = makeClients(server.address, {}, undefined, server.adminAddress);
      const broken: string[] = [];
      let runs = 0;
      let worst = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = 0;
      try {
        for (const fraction of TARGETS) {
          const target = targetFlopsOf(fraction, exitFlops);
          for (const depth of depths) {
            for (const st of streams) {
              await unary(admin.budget, "SetBudget", { target_flops: Math.round(target) });
              const run = await streamAll(server.address, st.items, manifest.input.shape, depth);
              const w = windowReport(run.costs, target, st.shifts);
              runs++;
              worst = Math.max(worst, w.overShare);
              lo = Math.min(lo, w.meanOverTarget);
              hi = Math.max(hi, w.meanOverTarget);
              if (!withinBounds(w))
                broken.push(`${fraction * 100}%/${depth}/${st.name.split(" (")[0]}: ${w.meanOverTarget.toFixed(3)}, ${(100 * w.overShare).toFixed(1)}%`);
            }
          }
        }
      } finally {
        admin.close();
        await server.stop();
      }
      console.log(
        `gain ${gain}, window ${window}: ${broken.length} of ${runs} runs break a bound; worst window share ${(100 * worst).toFixed(1)}%; mean / target ${lo.toFixed(3)} - ${hi.toFixed(3)}`,
      );
      for (const b of broken) console.log(`  ${b}`);
    }
}
