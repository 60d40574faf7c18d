import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Manifest } from "../../src/format/manifest.js";
import type { RawWorkerData } from "./rawOrtWorker.js";

export interface RawSetting {
  /** "staged": the stages chained per batch; "whole": the fused whole-network graph. */
  graph: "staged" | "whole";
  /** Threads, each owning its sessions. */
  workers: number;
  /** onnxruntime intra-op threads per session (0 = its default, one per core). */
  intraOpThreads: number;
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "rawOrtWorker.ts");

/**
 * Images per second of onnxruntime alone: onnxruntime-node sessions called directly in `workers`
 * threads, each owning its sessions and running batches of `batch` back to back through the
 * stages (or the whole network as one graph) for `seconds` after a warm-up, all threads measured
 * over the same window. Nothing of the server (src/engine, src/pipeline) is involved.
 */
/** Images per second, and the CPU time (every thread of this process, in microseconds) each image took while they ran. */
export interface RawFigure {
  throughput: number;
  cpuUsPerImage: number;
}

export async function rawThroughput(manifest: Manifest, inputs: Float32Array[], batch: number, s: RawSetting, seconds: number): Promise<RawFigure> {
  const per = inputs[0]!.length;
  const data = new Float32Array(batch * per);
  for (let i = 0; i < batch; i++) data.set(inputs[i % inputs.length]!, i * per);
  const whole = s.graph === "whole";
  if (whole && !manifest.fused) throw new Error(`${manifest.name} has no fused whole-network graph`);
  const workerData: RawWorkerData = {
    files: whole ? [path.join(manifest.dir, manifest.fused!.file)] : manifest.stages.map((st) => path.join(manifest.dir, st.file)),
    stageInputs: whole ? [[manifest.input.name]] : manifest.stages.map((st) => [...st.inputs]),
    inputName: manifest.input.name,
    data,
    dims: [batch, ...manifest.input.shape],
    intraOpThreads: s.intraOpThreads,
    warmMs: 1500,
    seconds,
  };
  const workers = Array.from(
    { length: s.workers },
    () =>
      new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(WORKER).href)}); });`, {
        eval: true,
        workerData,
      }),
  );
  const next = (w: Worker, type: string) =>
    new Promise<{ batches: number; ms: number }>((resolve, reject) => {
      const onMessage = (m: { type: string; batches: number; ms: number }) => {
        if (m.type !== type) return;
        w.off("message", onMessage);
        resolve(m);
      };
      w.on("message", onMessage);
      w.once("error", reject);
    });
  try {
    await Promise.all(workers.map((w) => next(w, "warm")));
    const done = workers.map((w) => next(w, "done"));
    const cpu0 = process.cpuUsage(); // the process does nothing else meanwhile: its CPU is the workers'
    for (const w of workers) w.postMessage("go");
    const results = await Promise.all(done);
    const cpu = process.cpuUsage(cpu0);
    const images = results.reduce((sum, r) => sum + r.batches * batch, 0);
    return {
      throughput: results.reduce((sum, r) => sum + (r.batches * batch) / (r.ms / 1000), 0),
      cpuUsPerImage: (cpu.user + cpu.system) / images,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
