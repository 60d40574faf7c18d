/**
 * Evaluates a staged model on the Fashion-MNIST test set by chaining its ONNX stages in
 * onnxruntime-node: per-exit accuracy and FLOPs, and the budgeted-batch curve with the
 * reference thresholds chosen on the validation split (calibration file) and applied to the
 * test set, next to the budgeted oracle. Prints a table and writes docs/results/model-eval.md.
 *
 *   npm run eval:model -- [--model-dir models/repository/ranet-fmnist/1] [--out docs/results/model-eval.md] [--write-evaluation]
 *
 * --write-evaluation also writes the test split's logits as the model's evaluation file
 * (evaluation.bin/.json, listed in manifest.json), for models exported before export.py wrote it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { accuracyAtFlops, evaluateThresholds, exitAccuracies, offlineTable, oracleAccuracy, scoresFromLogits } from "../src/budget/thresholdTable.js";
import { OrtEngine } from "../src/engine/OrtEngine.js";
import { loadCalibration } from "../src/format/calibration.js";
import { loadManifest } from "../src/format/manifest.js";
import { exitLogits } from "../test/support/exitLogits.js";
import { loadFashionMnist } from "../test/support/fashionMnist.js";
import { arg, runMain } from "./lib/cli.js";

async function main(): Promise<void> {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const outFile = arg("out", "docs/results/model-eval.md");
  const manifest = await loadManifest(modelDir);
  const engine = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 0, interOpThreads: 0, workers: 1 }, pino({ level: "warn" }));
  const test = loadFashionMnist("test");
  const t0 = Date.now();
  const logits = await exitLogits(engine, test, 500, (done) => process.stderr.write(`\rtest images ${done}/${test.count}`));
  process.stderr.write(`\n${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const K = manifest.exits.length;
  const flops = manifest.exits.map((e) => e.flops);
  if (process.argv.includes("--write-evaluation")) writeEvaluation(modelDir, logits, test.labels, K, manifest.labels.length);
  const testScores = scoresFromLogits({ count: test.count, exits: K, classes: manifest.labels.length, logits, labels: Int32Array.from(test.labels) });
  const accuracies = exitAccuracies(testScores);
  const perExit = flops.map((f, k) => ({ exit: k + 1, flops: f, accuracy: accuracies[k]! }));
  const valScores = scoresFromLogits(await loadCalibration(manifest));
  const table = offlineTable(valScores, flops);
  const curve = table.map((pt) => {
    const r = evaluateThresholds(testScores, pt.thresholds, flops);
    return { p: pt.p, expectedFlops: r.expectedFlops, accuracy: r.accuracy };
  });
  const last = flops[K - 1]!;
  const fractions = [0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const oracle = oracleAccuracy(
    testScores,
    flops,
    fractions.map((f) => f * last),
  );
  const pct = (x: number) => (100 * x).toFixed(2);
  const lines = [
    `# ${manifest.name} v${manifest.version} on the Fashion-MNIST test set (10,000 images)`,
    "",
    `Measured by \`npm run eval:model\` (ONNX stages chained in onnxruntime-node ${process.versions.node ? `on Node ${process.versions.node}` : ""}, ${os.cpus()[0]?.model ?? "cpu"}), ${new Date().toISOString().slice(0, 10)}.`,
    "",
    "## Per exit",
    "",
    "| exit | cumulative MMACs | % of last exit | test top-1 | val top-1 (manifest) |",
    "|---:|---:|---:|---:|---:|",
    ...perExit.map(
      (e, k) =>
        `| ${e.exit} | ${(e.flops / 1e6).toFixed(3)} | ${((100 * e.flops) / last).toFixed(1)}% | ${pct(e.accuracy)}% | ${pct(manifest.exits[k]!.accuracy?.val ?? NaN)}% |`,
    ),
    "",
    "## Budgeted batch (reference thresholds from the validation split, applied to the test set)",
    "",
    "| target (% of last exit) | MMACs | adaptive test top-1 | oracle (upper bound) | last exit |",
    "|---:|---:|---:|---:|---:|",
    ...fractions.map(
      (f, i) =>
        `| ${(100 * f).toFixed(0)}% | ${((f * last) / 1e6).toFixed(2)} | ${pct(accuracyAtFlops(curve, f * last))}% | ${pct(oracle[i]!)}% | ${pct(perExit[K - 1]!.accuracy)}% |`,
    ),
    "",
    "Adaptive accuracy at a target is interpolated along the curve of the 39 table points (p = 0.05 ... 1.95):",
    "",
    "| p | test MMACs | test top-1 |",
    "|---:|---:|---:|",
    ...curve.map((c) => `| ${c.p.toFixed(2)} | ${(c.expectedFlops / 1e6).toFixed(2)} | ${pct(c.accuracy)}% |`),
    "",
  ];
  const text = lines.join("\n");
  writeFileSync(outFile, text);
  console.log(text);
  console.log(`\nwrote ${outFile}`);
  await engine.dispose();
}

/** evaluation.bin/.json in the calibration file's format, and the manifest's 'evaluation' key. */
function writeEvaluation(dir: string, logits: Float32Array, labels: Uint8Array, exits: number, classes: number): void {
  const bytes = Buffer.alloc(logits.length * 4);
  logits.forEach((v, i) => {
    bytes.writeFloatLE(v, i * 4);
  });
  writeFileSync(path.join(dir, "evaluation.bin"), bytes);
  const header = {
    file: "evaluation.bin",
    dtype: "float32",
    byteOrder: "little",
    layout: "logits [count, exits, classes], row-major",
    count: labels.length,
    exits,
    classes,
    split: "test split (logits from the ONNX stages in onnxruntime-node)",
    labels: Array.from(labels),
  };
  writeFileSync(path.join(dir, "evaluation.json"), JSON.stringify(header));
  const manifestPath = path.join(dir, "manifest.json");
  const m = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown>;
  if (m.evaluation !== "evaluation.json") {
    // keep the key order of export.py's manifests: evaluation right after calibration
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m)) {
      out[k] = v;
      if (k === "calibration") out.evaluation = "evaluation.json";
    }
    writeFileSync(manifestPath, `${JSON.stringify(out, null, 2)}\n`);
  }
  process.stderr.write(`wrote ${dir}/evaluation.bin and evaluation.json\n`);
}

runMain(main);
