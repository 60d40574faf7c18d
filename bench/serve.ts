/**
 * Serving benchmark on the bundled model, all ratios measured in one run:
 *  (a) served pipeline, every sample forced to the last exit, concurrency 64, against raw
 *      in-process onnxruntime running the same stages at the same batch size (goal >= 0.85);
 *  (b) dynamic batching against max batch size 1, both forced to the last exit (the gain);
 *  (c) early exit at the default thresholds against the forced last exit, compared with the
 *      speed-up the FLOPs ratio predicts (goal >= 85% of it);
 *  (d) engine worker threads: the automatic count (cores - 1) against one per core.
 * The raw baseline runs the engine directly (its worker thread, stages back to back, no gRPC).
 * Prints a table and writes docs/benchmarks.md.
 *
 *   npm run bench:serve -- [--seconds 10] [--concurrency 64] [--batch 32] [--model-dir DIR]
 */

import { writeFileSync } from "node:fs";
import os from "node:os";
import pino from "pino";
import { OrtEngine } from "../src/engine/OrtEngine.js";
import { runAllStages } from "../src/engine/runAllStages.js";
import { loadManifest } from "../src/format/manifest.js";
import type { ClassifyRequest } from "../src/generated/ranet/v1/ClassifyRequest.js";
import { imageOf, loadFashionMnist, normalise } from "../test/support/fashionMnist.js";
import { type LoadResult, runLoad } from "../test/support/loadgen.js";
import { startServerProcess } from "../test/support/serverProcess.js";
import { arg, runMain } from "./lib/cli.js";

const seconds = Number(arg("seconds", "10"));
const concurrency = Number(arg("concurrency", "64"));
const batch = Number(arg("batch", "32"));
const modelDir = arg("model-dir", "models/ranet-fmnist");
const out = arg("out", "docs/benchmarks.md");

function tensorBytes(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

async function rawThroughput(inputs: Float32Array[]): Promise<number> {
  const manifest = await loadManifest(modelDir);
  const engine = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 0, interOpThreads: 0, workers: 1 }, pino({ level: "warn" }));
  const per = inputs[0]!.length;
  const run = async (start: number) => {
    const data = new Float32Array(batch * per);
    for (let i = 0; i < batch; i++) data.set(inputs[(start + i) % inputs.length]!, i * per);
    await runAllStages(engine, manifest.stages, { [manifest.input.name]: { data, dims: [batch, ...manifest.input.shape] } });
  };
  const until = performance.now() + 1500;
  while (performance.now() < until) await run(0);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await run(n);
    n += batch;
  }
  const tput = n / ((performance.now() - t0) / 1000);
  await engine.dispose();
  return tput;
}

async function served(flags: string[], request: (i: number) => ClassifyRequest, api: "unary" | "stream" = "unary"): Promise<LoadResult> {
  const server = await startServerProcess(["--model-dir", modelDir, ...flags]);
  try {
    return await runLoad({ address: server.address, concurrency, durationMs: seconds * 1000, request, api });
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const K = manifest.exits.length;
  const last = manifest.exits[K - 1]!.flops;
  const set = loadFashionMnist("test");
  const inputs = Array.from({ length: 2000 }, (_, i) => normalise(imageOf(set, i), manifest.input));
  const bytes = inputs.map(tensorBytes);
  const req = (exit: number) => (i: number) => ({ tensor: { shape: [...manifest.input.shape], data: bytes[i % bytes.length] }, options: { exit } });
  const log = (s: string) => process.stderr.write(`${s}\n`);

  log(`raw onnxruntime, batch ${batch}, ${seconds}s ...`);
  const raw = await rawThroughput(inputs);
  log(`  ${raw.toFixed(0)} img/s`);
  const common = ["--max-batch-size", String(batch), "--max-queue-delay-ms", "2"];
  log(`served, forced last exit, concurrency ${concurrency} ...`);
  const lastExit = await served(common, req(K));
  log(`  ${lastExit.throughput.toFixed(0)} img/s`);
  log(`served over ClassifyStream, forced last exit, concurrency ${concurrency} ...`);
  const lastExitStream = await served(common, req(K), "stream");
  log(`  ${lastExitStream.throughput.toFixed(0)} img/s`);
  log("served, batch size 1, forced last exit ...");
  const single = await served(["--max-batch-size", "1", "--max-queue-delay-ms", "0"], req(K));
  log(`  ${single.throughput.toFixed(0)} img/s`);
  const perCore = os.availableParallelism();
  log(`served, forced last exit, ${perCore} engine workers ...`);
  const allCores = await served([...common, "--engine-workers", String(perCore)], req(K));
  log(`  ${allCores.throughput.toFixed(0)} img/s`);
  log("served, early exit at the default thresholds (offline table point for the default target, controller off) ...");
  const early = await served([...common, "--controller", "false"], req(0));
  log(`  ${early.throughput.toFixed(0)} img/s, mean ${(early.meanFlops / 1e6).toFixed(2)} MMACs`);

  const predicted = last / early.meanFlops;
  const achieved = early.throughput / lastExit.throughput;
  const row = (name: string, r: LoadResult) =>
    `| ${name} | ${r.throughput.toFixed(0)} | ${(r.meanFlops / 1e6).toFixed(2)} | ${r.latencyMs.p50.toFixed(1)} / ${r.latencyMs.p95.toFixed(1)} / ${r.latencyMs.p99.toFixed(1)} | ${r.requests} | ${
      Object.entries(r.errors)
        .map(([k, v]) => `${k}:${v}`)
        .join(" ") || "0"
    } |`;
  const text = [
    "# Serving benchmark",
    "",
    `\`npm run bench:serve -- --seconds ${seconds} --concurrency ${concurrency} --batch ${batch}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}.`,
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, onnxruntime CPU provider; server and load generator share the machine.`,
    "",
    "| run | images/s | mean MMACs | latency p50 / p95 / p99 ms | requests | errors |",
    "|---|---:|---:|---:|---:|---:|",
    `| raw engine (onnxruntime in its worker thread, default intra-op threads), batch ${batch}, all stages | ${raw.toFixed(0)} | ${(last / 1e6).toFixed(2)} | - | - | - |`,
    row(`served (unary Classify), forced last exit, max batch ${batch}`, lastExit),
    row(`served (ClassifyStream), forced last exit, max batch ${batch}`, lastExitStream),
    row("served, forced last exit, max batch 1", single),
    row(`served, forced last exit, max batch ${batch}, ${perCore} engine workers`, allCores),
    row(`served, early exit (default thresholds), max batch ${batch}`, early),
    "",
    "| ratio | measured | goal |",
    "|---|---:|---:|",
    `| (a) served forced-last / raw onnxruntime, unary calls | ${(lastExit.throughput / raw).toFixed(3)} | >= 0.85 |`,
    `| (a) served forced-last / raw onnxruntime, ClassifyStream | ${(lastExitStream.throughput / raw).toFixed(3)} | >= 0.85 |`,
    `| (b) dynamic batching / batch size 1 | ${(lastExit.throughput / single.throughput).toFixed(2)}x | report |`,
    `| (d) ${perCore} engine workers / automatic (${Math.max(1, perCore - 1)}) | ${(allCores.throughput / lastExit.throughput).toFixed(2)}x | report |`,
    `| (c) early-exit speed-up / FLOPs-predicted speed-up | ${achieved.toFixed(2)}x / ${predicted.toFixed(2)}x = ${(achieved / predicted).toFixed(3)} | >= 0.85 |`,
    "",
    `Exit distribution of the early-exit run: ${early.exits.map((n, k) => `exit ${k + 1}: ${((100 * n) / early.requests).toFixed(1)}%`).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
