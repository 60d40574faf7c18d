/**
 * One thread of the raw onnxruntime baseline: owns its own sessions (the stages, or the whole
 * network as one graph) and runs one batch through them back to back; nothing of the server.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";

export interface RawWorkerData {
  files: string[];
  /** Stage inputs by name, in stage order (one entry, the input, for the whole graph). */
  stageInputs: string[][];
  inputName: string;
  data: Float32Array;
  dims: number[];
  intraOpThreads: number;
  warmMs: number;
  seconds: number;
}

const d = workerData as RawWorkerData;
const port = parentPort!;
const sessions = await Promise.all(
  d.files.map((f) =>
    ort.InferenceSession.create(f, {
      executionProviders: ["cpu"],
      ...(d.intraOpThreads ? { intraOpNumThreads: d.intraOpThreads } : {}),
      graphOptimizationLevel: "all",
    }),
  ),
);
const input = new ort.Tensor("float32", d.data, d.dims);

async function once(): Promise<void> {
  const env: Record<string, ort.Tensor> = { [d.inputName]: input };
  for (const [k, names] of d.stageInputs.entries()) {
    Object.assign(env, await sessions[k]!.run(Object.fromEntries(names.map((n) => [n, env[n]!]))));
  }
}

const warmEnd = performance.now() + d.warmMs;
while (performance.now() < warmEnd) await once();
port.postMessage({ type: "warm" });
port.once("message", async () => {
  const t0 = performance.now();
  let batches = 0;
  while (performance.now() - t0 < d.seconds * 1000) {
    await once();
    batches++;
  }
  const ms = performance.now() - t0;
  await Promise.all(sessions.map((s) => s.release()));
  port.postMessage({ type: "done", batches, ms });
});
