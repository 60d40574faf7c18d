/**
 * Budget evaluation over the real server: streams the Fashion-MNIST test set through gRPC in
 * i.i.d. order and in a shifted order (blocks of clean images alternating with blocks made
 * harder by noise, or by low contrast plus blur), for each target, with the online controller
 * and with the offline thresholds alone. Reports mean FLOPs / target, the share of 1,000-request
 * sliding windows above target x 1.02, requests to recover after each shift, and accuracy
 * against the offline reference curve at the same realised FLOPs; compares the exit scoring
 * rules; writes docs/budget-eval.md and two PNG plots.
 *
 *   npm run eval:budget -- [--target 0.3,0.5,0.7] [--concurrency 8] [--model-dir DIR] [--out-dir docs] [--limit N]
 *                          [--gain 0.4] [--margin 0.01]   (the controller settings of the server under test)
 *   (a target <= 1 is a fraction of the last exit's FLOPs, larger values are multiply-adds)
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { targetFlopsOf } from "../src/budget/budgetTarget.js";
import { accuracyAtFlops, evaluateThresholds, offlineTable, oracleAccuracy, scoresFromLogits } from "../src/budget/thresholdTable.js";
import { makeClients, unary } from "../src/cli/clients.js";
import { OrtEngine } from "../src/engine/OrtEngine.js";
import { loadCalibration } from "../src/format/calibration.js";
import { loadManifest } from "../src/format/manifest.js";
import { fitTemperatures, makeScorer, SCORE_RULES } from "../src/scoring/exitScorers.js";
import { exitLogits } from "../test/support/exitLogits.js";
import { type ImageSet, imageOf, loadFashionMnist, normalise } from "../test/support/fashionMnist.js";
import { rng } from "../test/support/rng.js";
import { startServerProcess } from "../test/support/serverProcess.js";
import { arg, runMain } from "./lib/cli.js";
import { plotPng } from "./lib/svgPlot.js";

const modelDir = arg("model-dir", "models/ranet-fmnist");
const outDir = arg("out-dir", "docs");
const concurrency = Number(arg("concurrency", "8"));
const WINDOW = 1000;

type Corruption = "clean" | "noise" | "low-contrast-blur";

/** Applies a corruption to 28x28 uint8 pixels (seeded). */
function corrupt(px: Uint8Array, kind: Corruption, side: number, r: () => number): Uint8Array {
  if (kind === "clean") return px;
  const out = new Uint8Array(px.length);
  if (kind === "noise") {
    for (let i = 0; i < px.length; i++) {
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      out[i] = Math.max(0, Math.min(255, Math.round(px[i]! + 0.35 * 255 * g)));
    }
    return out;
  }
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let s = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < side && xx >= 0 && xx < side) {
            s += px[yy * side + xx]!;
            n++;
          }
        }
      out[y * side + x] = Math.round(0.35 * (s / n) + 0.3 * 255);
    }
  }
  return out;
}

interface Item {
  input: Buffer;
  label: number;
}

function sequence(
  set: ImageSet,
  spec: { pixelScale: number; mean: readonly number[]; std: readonly number[] },
  shifted: boolean,
): { items: Item[]; shifts: number[]; blocks: Corruption[] } {
  const r = rng(shifted ? 2 : 1);
  const order = Array.from({ length: set.count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const blocks: Corruption[] = shifted ? ["clean", "noise", "clean", "low-contrast-blur", "clean"] : ["clean"];
  const per = Math.ceil(set.count / blocks.length);
  const items = order.map((idx, i) => {
    const kind = blocks[Math.floor(i / per)]!;
    const x = normalise(corrupt(imageOf(set, idx), kind, set.side, r), spec);
    return { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), label: set.labels[idx]! };
  });
  const shifts = blocks.slice(1).map((_, b) => (b + 1) * per);
  return { items, shifts, blocks };
}

interface RunResult {
  costs: number[];
  correct: number[];
}

async function stream(address: string, items: Item[], shape: readonly number[]): Promise<RunResult> {
  const c = makeClients(address);
  const costs: number[] = [];
  const correct: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const it = items[next++]!;
      const res = await unary(c.classifier, "Classify", { tensor: { shape: [...shape], data: it.input } }, 30_000);
      costs.push(res.flops);
      correct.push(res.class_index === it.label ? 1 : 0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  c.close();
  return { costs, correct };
}

/** Mean of every sliding window of `w` (window i covers [i, i+w)). */
function slidingMeans(xs: number[], w: number): number[] {
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i]!;
    if (i >= w) s -= xs[i - w]!;
    if (i >= w - 1) out.push(s / w);
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function windowStats(costs: number[], target: number, shifts: number[]) {
  const wins = slidingMeans(costs, WINDOW); // wins[j] ends at request j + WINDOW - 1
  const over = (w: number) => w > 1.02 * target;
  const share = wins.filter(over).length / wins.length;
  const bounds = [...shifts, costs.length];
  let afterShift = 0;
  let afterShiftOver = 0;
  const recovery: number[] = [];
  shifts.forEach((s, b) => {
    const end = bounds[b + 1]!;
    let lastOver = -1;
    for (let e = s; e < end; e++) {
      const j = e - WINDOW + 1;
      if (j < 0) continue;
      if (over(wins[j]!)) lastOver = e;
      if (e >= s + 500) {
        afterShift++;
        if (over(wins[j]!)) afterShiftOver++;
      }
    }
    recovery.push(lastOver < 0 ? 0 : lastOver - s + 1);
  });
  return { wins, share, afterShiftShare: afterShift ? afterShiftOver / afterShift : 0, recovery };
}

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const K = manifest.exits.length;
  const exitFlops = manifest.exits.map((e) => e.flops);
  const last = exitFlops[K - 1]!;
  const targets = arg("target", "0.3,0.5,0.7")
    .split(",")
    .map(Number)
    .map((t) => targetFlopsOf(t, exitFlops));
  const full = loadFashionMnist("test");
  const limit = Number(arg("limit", String(full.count)));
  const set = { ...full, count: Math.min(limit, full.count) };
  const log = (s: string) => process.stderr.write(`${s}\n`);

  // offline curves on the test set (thresholds from the validation split), per scoring rule
  log("offline curves: chaining all stages over the test set ...");
  const engine = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 0, interOpThreads: 0, workers: 1 }, pino({ level: "warn" }));
  const testLogits = await exitLogits(engine, set);
  await engine.dispose();
  const cal = await loadCalibration(manifest);
  const temps = await fitTemperatures(cal);
  const testCal = { count: set.count, exits: K, classes: manifest.labels.length, logits: testLogits, labels: Int32Array.from(set.labels) };
  const rules = SCORE_RULES.map((rule) => {
    const scorer = makeScorer(rule, temps);
    const valTable = offlineTable(scoresFromLogits(cal, scorer), exitFlops);
    const testScores = scoresFromLogits(testCal, scorer);
    const testCurve = valTable.map((pt) => ({ ...evaluateThresholds(testScores, pt.thresholds, exitFlops), p: pt.p }));
    return { rule, valTable, testScores, testCurve };
  });
  const reference = rules[0]!; // max-softmax: the paper's rule
  const oracleFlops = Array.from({ length: 40 }, (_, i) => exitFlops[0]! + ((last - exitFlops[0]!) * i) / 39);
  const oracle = oracleAccuracy(reference.testScores, exitFlops, oracleFlops);

  const iid = sequence(set, manifest.input, false);
  const shifted = sequence(set, manifest.input, true);
  const on = await startServerProcess([
    "--model-dir",
    modelDir,
    "--controller",
    "true",
    "--controller-gain",
    arg("gain", "0.4"),
    "--controller-margin",
    arg("margin", "0.01"),
  ]);
  const off = await startServerProcess(["--model-dir", modelDir, "--controller", "false"]);
  const setTarget = async (server: { address: string; adminAddress: string }, flops: number) => {
    const c = makeClients(server.address, {}, undefined, server.adminAddress);
    const st = await unary(c.budget, "SetBudget", { target_flops: Math.round(flops) });
    c.close();
    return st;
  };
  const rows: string[] = [];
  const shiftRows: string[] = [];
  const onlinePoints: { x: number; y: number }[] = [];
  const windowSeries: { name: string; points: { x: number; y: number }[]; color: string; dashed?: boolean }[] = [];
  try {
    for (const [ti, target] of targets.entries()) {
      const frac = target / last;
      log(`target ${(100 * frac).toFixed(0)}%: i.i.d. order, controller on ...`);
      await setTarget(on, target);
      const a = await stream(on.address, iid.items, manifest.input.shape);
      const aStats = windowStats(a.costs, target, []);
      const realized = mean(a.costs);
      const acc = mean(a.correct);
      const refAcc = accuracyAtFlops(reference.testCurve, realized);
      onlinePoints.push({ x: realized, y: acc });
      rows.push(
        `| ${(100 * frac).toFixed(0)}% | ${(realized / target).toFixed(4)} | ${(100 * aStats.share).toFixed(2)}% | ${(100 * acc).toFixed(2)}% | ${(100 * refAcc).toFixed(2)}% | ${(100 * (acc - refAcc)).toFixed(2)} |`,
      );
      log(`target ${(100 * frac).toFixed(0)}%: shifted order, controller on and off ...`);
      await setTarget(on, target);
      const b = await stream(on.address, shifted.items, manifest.input.shape);
      await setTarget(off, target);
      const c = await stream(off.address, shifted.items, manifest.input.shape);
      const bStats = windowStats(b.costs, target, shifted.shifts);
      const cStats = windowStats(c.costs, target, shifted.shifts);
      shiftRows.push(
        `| ${(100 * frac).toFixed(0)}% | on | ${(mean(b.costs) / target).toFixed(4)} | ${(100 * bStats.share).toFixed(2)}% | ${(100 * bStats.afterShiftShare).toFixed(2)}% | ${bStats.recovery.join(", ")} | ${(100 * mean(b.correct)).toFixed(2)}% |`,
        `| ${(100 * frac).toFixed(0)}% | off (offline thresholds) | ${(mean(c.costs) / target).toFixed(4)} | ${(100 * cStats.share).toFixed(2)}% | ${(100 * cStats.afterShiftShare).toFixed(2)}% | ${cStats.recovery.join(", ")} | ${(100 * mean(c.correct)).toFixed(2)}% |`,
      );
      const colors = ["#1f77b4", "#2ca02c", "#d62728"];
      const every = (ws: number[]) => ws.map((w, j) => ({ x: j + WINDOW, y: w / last })).filter((_, j) => j % 20 === 0);
      windowSeries.push({ name: `${(100 * frac).toFixed(0)}% controller on`, points: every(bStats.wins), color: colors[ti % 3]! });
      windowSeries.push({ name: `${(100 * frac).toFixed(0)}% offline only`, points: every(cStats.wins), color: colors[ti % 3]!, dashed: true });
      windowSeries.push({
        name: `${(100 * frac).toFixed(0)}% target`,
        points: [
          { x: WINDOW, y: frac },
          { x: set.count, y: frac },
        ],
        color: "#999",
      });
    }
  } finally {
    await on.stop();
    await off.stop();
  }

  const ruleRows = rules.map((r) => {
    const val = targets.map((t) => accuracyAtFlops(r.valTable, t));
    const test = targets.map((t) =>
      accuracyAtFlops(
        r.testCurve.map((c) => ({ expectedFlops: c.expectedFlops, accuracy: c.accuracy })),
        t,
      ),
    );
    return { rule: r.rule, val, test };
  });
  const best = ruleRows.reduce((a, b) => (mean(b.val) > mean(a.val) ? b : a));
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const text = [
    `# Budget control on ${manifest.name} v${manifest.version}: Fashion-MNIST test set over gRPC`,
    "",
    `\`npm run eval:budget -- --target ${arg("target", "0.3,0.5,0.7")} --concurrency ${concurrency} --gain ${arg("gain", "0.4")} --margin ${arg("margin", "0.01")}\`, ${new Date().toISOString().slice(0, 16)}Z.`,
    `Each run streams all 10,000 test images (unary Classify, ${concurrency} in flight) after SetBudget; windows are ${WINDOW} consecutive answers.`,
    `Shifted order: ${shifted.blocks.join(" -> ")} blocks of ${Math.ceil(set.count / shifted.blocks.length)} (noise: Gaussian sigma 0.35 of full scale; low-contrast-blur: 3x3 box blur, contrast x0.35).`,
    "",
    "## i.i.d. order, controller on",
    "",
    "| target | mean FLOPs / target | windows > 1.02 target | accuracy | offline reference at same FLOPs | difference (points) |",
    "|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    "The offline reference curve: the paper's thresholds (max softmax, geometric p family) chosen on the validation split and applied to the test set, interpolated at the realised FLOPs.",
    "",
    "## Shifted order",
    "",
    "| target | controller | mean FLOPs / target | windows > 1.02 target | same, >= 500 requests after a shift | requests to recover after each shift | accuracy |",
    "|---:|---|---:|---:|---:|---:|---:|",
    ...shiftRows,
    "",
    "## Exit scoring rules (offline curves, thresholds from the validation split)",
    "",
    `| rule | ${targets.map((t) => `val @${((100 * t) / last).toFixed(0)}%`).join(" | ")} | ${targets.map((t) => `test @${((100 * t) / last).toFixed(0)}%`).join(" | ")} |`,
    `|---|${targets.map(() => "---:").join("|")}|${targets.map(() => "---:").join("|")}|`,
    ...ruleRows.map((r) => `| ${r.rule}${r.rule === best.rule ? " (chosen on val)" : ""} | ${r.val.map(pct).join(" | ")} | ${r.test.map(pct).join(" | ")} |`),
    "",
    `Per-exit temperatures fitted on the validation split: ${temps.map((t) => t.toFixed(3)).join(", ")}.`,
    "",
    "![accuracy vs FLOPs](budget-accuracy.png)",
    "",
    "![FLOPs per window, shifted order](budget-windows.png)",
    "",
  ].join("\n");
  writeFileSync(path.join(outDir, "budget-eval.md"), text);
  await plotPng(
    {
      title: "Accuracy vs mean FLOPs per request (Fashion-MNIST test set)",
      xLabel: "mean multiply-adds per request",
      yLabel: "top-1 accuracy",
      series: [
        {
          name: "offline reference (max softmax)",
          points: reference.testCurve.map((c) => ({ x: c.expectedFlops, y: c.accuracy })).sort((a, b) => a.x - b.x),
          color: "#1f77b4",
        },
        {
          name: `offline, ${best.rule}`,
          points: rules
            .find((r) => r.rule === best.rule)!
            .testCurve.map((c) => ({ x: c.expectedFlops, y: c.accuracy }))
            .sort((a, b) => a.x - b.x),
          color: "#9467bd",
          dashed: true,
        },
        { name: "budgeted oracle", points: oracleFlops.map((x, i) => ({ x, y: oracle[i]! })), color: "#7f7f7f", dashed: true },
        { name: "online controller (i.i.d.)", points: onlinePoints, color: "#d62728", style: "points" },
      ],
      yRange: [Math.min(...reference.testCurve.map((c) => c.accuracy)) - 0.005, Math.max(...oracle) + 0.005],
    },
    path.join(outDir, "budget-accuracy.png"),
  );
  await plotPng(
    {
      title: `Mean FLOPs of ${WINDOW}-request windows, shifted order (fraction of last exit)`,
      xLabel: "request index (window end)",
      yLabel: "window mean FLOPs / last-exit FLOPs",
      series: windowSeries,
    },
    path.join(outDir, "budget-windows.png"),
  );
  console.log(text);
}

runMain(main);
