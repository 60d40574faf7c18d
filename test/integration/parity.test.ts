import pino from "pino";
import { describe, expect, it } from "vitest";
import { OrtEngine } from "../../src/engine/OrtEngine.js";
import { runAllStages } from "../../src/engine/runAllStages.js";
import { loadManifest } from "../../src/format/manifest.js";
import { MODEL_DIR, parityFixtures } from "../support/fixtures.js";

/** Chains the ONNX stages in onnxruntime-node and returns every exit's logits per image. */
async function chain(engine: OrtEngine, inputs: number[][]): Promise<number[][][]> {
  const m = engine.manifest;
  const n = inputs.length;
  const perImage: number[][][] = inputs.map(() => []);
  await runAllStages(engine, m.stages, { [m.input.name]: { data: Float32Array.from(inputs.flat()), dims: [n, ...m.input.shape] } }, (_k, out) => {
    const c = out.logits!.dims[1]!;
    for (let i = 0; i < n; i++) perImage[i]!.push(Array.from(out.logits!.data.slice(i * c, (i + 1) * c)));
  });
  return perImage;
}

describe("ONNX stages match PyTorch", async () => {
  const manifest = await loadManifest(MODEL_DIR);
  const engine = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 1, interOpThreads: 1, workers: 1 }, pino({ level: "silent" }));
  const fixtures = parityFixtures();

  const expectClose = (got: number[][], want: number[][]) => {
    expect(got.length).toBe(manifest.exits.length);
    got.forEach((row, k) => {
      row.forEach((v, c) => {
        expect(Math.abs(v - want[k]![c]!)).toBeLessThan(1e-4);
      });
    });
  };

  it("at batch size 1, every exit's logits within 1e-4", async () => {
    for (const f of fixtures) expectClose((await chain(engine, [f.input]))[0]!, f.logits);
  });

  it("at batch size > 1, every exit's logits within 1e-4", async () => {
    const got = await chain(
      engine,
      fixtures.map((f) => f.input),
    );
    expect(got.length).toBeGreaterThan(1);
    got.forEach((g, i) => {
      expectClose(g, fixtures[i]!.logits);
    });
  });
  it("the fused whole-network graph gives every exit's logits as the stages do (batch 1 and > 1)", async () => {
    const m = engine.manifest;
    expect(m.fused?.outputs).toEqual(m.stages.map((_, k) => `logits_${k + 1}`));
    for (const group of [[fixtures[0]!], fixtures]) {
      const n = group.length;
      const out = await engine.runStage(m.stages.length, {
        [m.input.name]: { data: Float32Array.from(group.flatMap((f) => f.input)), dims: [n, ...m.input.shape] },
      });
      const c = m.labels.length;
      group.forEach((f, i) => {
        const got = m.stages.map((_, k) => Array.from(out[`logits_${k + 1}`]!.data.slice(i * c, (i + 1) * c)));
        expectClose(got, f.logits);
      });
    }
  });
});
