import { existsSync } from "node:fs";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { accuracyAtFlops, evaluateThresholds, exitAccuracies, offlineTable, scoresFromLogits } from "../../src/budget/thresholdTable.js";
import { OrtEngine } from "../../src/engine/OrtEngine.js";
import { loadCalibration } from "../../src/format/calibration.js";
import { loadManifest } from "../../src/format/manifest.js";
import { exitLogits } from "../support/exitLogits.js";
import { FMNIST_DIR, loadFashionMnist } from "../support/fashionMnist.js";
import { MODEL_DIR } from "../support/fixtures.js";

/** The bundled model's promises (issue: trained default model), measured through its ONNX stages. */
describe.runIf(existsSync(FMNIST_DIR))("bundled model on the Fashion-MNIST test set", () => {
  it("meets its accuracy and cost goals and its manifest reports the measured accuracy", async () => {
    const manifest = await loadManifest(MODEL_DIR);
    const engine = await OrtEngine.create(
      manifest,
      { executionProviders: ["cpu"], intraOpThreads: 0, interOpThreads: 0, workers: 1 },
      pino({ level: "silent" }),
    );
    const test = loadFashionMnist("test");
    const logits = await exitLogits(engine, test);
    await engine.dispose();
    const K = manifest.exits.length;
    const flops = manifest.exits.map((e) => e.flops);
    const scores = scoresFromLogits({ count: test.count, exits: K, classes: manifest.labels.length, logits, labels: Int32Array.from(test.labels) });
    const acc = exitAccuracies(scores);
    // the manifest's test accuracy (PyTorch) agrees with the ONNX stages
    acc.forEach((a, k) => {
      expect(Math.abs(a - manifest.exits[k]!.accuracy!.test!)).toBeLessThan(0.002);
    });
    expect(K).toBeGreaterThanOrEqual(4);
    expect(acc[K - 1]).toBeGreaterThanOrEqual(0.93);
    expect(acc[0]).toBeGreaterThanOrEqual(0.88);
    expect(flops[0]! / flops[K - 1]!).toBeLessThanOrEqual(0.25);
    // budgeted batch with the reference thresholds (validation split -> test set)
    const table = offlineTable(scoresFromLogits(await loadCalibration(manifest)), flops);
    const curve = table.map((pt) => evaluateThresholds(scores, pt.thresholds, flops));
    const atHalf = accuracyAtFlops(curve, 0.5 * flops[K - 1]!);
    console.log(`test top-1 per exit ${acc.map((a) => (100 * a).toFixed(2)).join(" ")}; adaptive at 50% FLOPs ${(100 * atHalf).toFixed(2)}`);
    expect(atHalf).toBeGreaterThanOrEqual(acc[K - 1]! - 0.003);
  }, 300_000);
});
