import pino from "pino";
import { OrtEngine } from "../../src/engine/OrtEngine.js";
import { runAllStages } from "../../src/engine/runAllStages.js";
import type { Manifest } from "../../src/format/manifest.js";

export interface RawSetting {
  /** "staged": the stages chained per batch; "whole": the fused whole-network graph. */
  graph: "staged" | "whole";
  workers: number;
  /** onnxruntime intra-op threads per session (0 = its default, one per core). */
  intraOpThreads: number;
}

/**
 * Images per second of onnxruntime alone, no serving: `workers` threads each running batches of
 * `batch` back to back through the stages (or the fused graph), for `seconds` after a warm-up.
 */
export async function rawThroughput(manifest: Manifest, inputs: Float32Array[], batch: number, s: RawSetting, seconds: number): Promise<number> {
  const engine = await OrtEngine.create(
    manifest,
    { executionProviders: ["cpu"], intraOpThreads: s.intraOpThreads, interOpThreads: 0, workers: s.workers, fused: s.graph === "whole" },
    pino({ level: "warn" }),
  );
  const per = inputs[0]!.length;
  const input = (start: number) => {
    const data = new Float32Array(batch * per);
    for (let i = 0; i < batch; i++) data.set(inputs[(start + i) % inputs.length]!, i * per);
    return { [manifest.input.name]: { data, dims: [batch, ...manifest.input.shape] } };
  };
  const runOnce = (start: number) =>
    s.graph === "whole" ? engine.runStage(manifest.stages.length, input(start)) : runAllStages(engine, manifest.stages, input(start));
  let n = 0;
  let measuring = false;
  const loop = async (until: () => boolean) => {
    while (!until()) {
      await runOnce(n);
      if (measuring) n += batch;
    }
  };
  const warmEnd = performance.now() + 1500;
  await Promise.all(Array.from({ length: s.workers }, () => loop(() => performance.now() > warmEnd)));
  measuring = true;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: s.workers }, () => loop(() => performance.now() - t0 > seconds * 1000)));
  const tput = n / ((performance.now() - t0) / 1000);
  await engine.dispose();
  return tput;
}
