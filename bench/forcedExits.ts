/**
 * Forced-exit serving benchmark for any exported model, e.g. the paper's CIFAR-10 RANet with
 * random weights (six times the bundled model's multiply-adds):
 *
 *   (cd models && python3 export.py --random-weights paper-cifar10 --out /tmp/models/ranet-paper-cifar10 --name ranet-paper-cifar10)
 *   npm run bench:forced -- --model-dir /tmp/models/ranet-paper-cifar10 [--seconds 5] [--rounds 3] [--concurrency 64] [--batch 32] [--out FILE]
 *
 * Medians of `--rounds` interleaved rounds, in one run: raw onnxruntime (the stages chained per
 * batch, and the fused whole-network graph) at the server's thread settings and at
 * onnxruntime's defaults; the served pipeline in its own process with the last exit forced
 * (unary and ClassifyStream, fused path on and off) and the first exit forced; CPU used by the
 * server. ClassifyStream load comes from the node:http2 client of test/support/rawStreamLoad.ts.
 * Inputs are seeded random tensors of the model's input shape (a random-weight model's answers
 * mean nothing; its speed is what is measured). Prints a table and writes `--out`.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { autoEngineWorkers, usableCpus } from "../src/core/usableCpus.js";
import { loadManifest } from "../src/format/manifest.js";
import type { ClassifyRequest } from "../src/generated/ranet/v1/ClassifyRequest.js";
import type { LoadOptions } from "../test/support/loadgen.js";
import { encode } from "../test/support/rawGrpc.js";
import { rng } from "../test/support/rng.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, runMain } from "./lib/cli.js";
import { type RawSetting, rawThroughput } from "./lib/rawEngine.js";
import { loadWithCpu } from "./lib/threadCpu.js";

const seconds = Number(arg("seconds", "5"));
const rounds = Number(arg("rounds", "3"));
const concurrency = Number(arg("concurrency", "64"));
const batch = Number(arg("batch", "32"));
const modelDir = path.resolve(arg("model-dir", "models/repository/ranet-fmnist/1"));
const out = arg("out", "");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Figure {
  throughput: number;
  cores?: number;
}

async function served(
  flags: string[],
  load: { request: (i: number) => ClassifyRequest; body: (i: number) => Buffer },
  api: LoadOptions["api"],
): Promise<Figure> {
  const server = await startBenchServer([
    "--model-root",
    path.dirname(modelDir),
    "--model-dir",
    modelDir,
    "--max-batch-size",
    String(batch),
    "--controller",
    "false",
    ...flags,
  ]);
  try {
    const { result: r, server: cpu } = await loadWithCpu(server.proc.pid!, { address: server.address, concurrency, durationMs: seconds * 1000, ...load, api });
    return { throughput: r.throughput, cores: cpu.total };
  } finally {
    await server.stop();
  }
}

runMain(async () => {
  const manifest = await loadManifest(modelDir);
  const K = manifest.exits.length;
  const per = manifest.input.shape.reduce((a, b) => a * b, 1);
  const r = rng(7);
  const inputs = Array.from({ length: 256 }, () => Float32Array.from({ length: per }, () => r() * 2 - 1));
  const bytes = inputs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const req = (exit: number) => {
    const request = (i: number) => ({ tensor: { shape: [...manifest.input.shape], data: bytes[i % bytes.length]! }, options: { exit } });
    const bodies = bytes.map((_, i) => encode("ranet.v1.ClassifyRequest", request(i)));
    return { request, body: (i: number) => bodies[i % bodies.length]! };
  };
  const workers = autoEngineWorkers("cpu", usableCpus().cpus);
  const raw = (s: RawSetting) => async () => ({ throughput: (await rawThroughput(manifest, inputs, batch, s, seconds)).throughput });
  const configs: [string, () => Promise<Figure>][] = [
    [`raw staged, ${workers} worker(s), intra-op 1 (the server's setting)`, raw({ graph: "staged", workers, intraOpThreads: 1 })],
    ["raw staged, 1 worker, onnxruntime's default threads", raw({ graph: "staged", workers: 1, intraOpThreads: 0 })],
    [`raw whole network (one session), ${workers} worker(s), intra-op 1`, raw({ graph: "whole", workers, intraOpThreads: 1 })],
    ["raw whole network (one session), 1 worker, default threads", raw({ graph: "whole", workers: 1, intraOpThreads: 0 })],
    ["served forced last exit, stream", () => served([], req(K), "h2stream")],
    ["served forced last exit, unary", () => served([], req(K), "unary")],
    ["served forced last exit, stream, fused path off", () => served(["--fused-path", "false"], req(K), "h2stream")],
    ["served forced exit 1, stream", () => served([], req(1), "h2stream")],
  ];
  const results = new Map<string, Figure[]>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of configs) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${name} ...\n`);
      const f = await run();
      results.set(name, [...(results.get(name) ?? []), f]);
    }
  }
  const med = (name: string, key: keyof Figure = "throughput") => median(results.get(name)!.map((f) => Number(f[key] ?? Number.NaN)));
  const bestStaged = Math.max(med(configs[0]![0]), med(configs[1]![0]));
  const bestWhole = Math.max(med(configs[2]![0]), med(configs[3]![0]));
  const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  const text = [
    `# Forced-exit serving: ${manifest.name} v${manifest.version}`,
    "",
    `\`npm run bench:forced -- --model-dir ${arg("model-dir", "models/repository/ranet-fmnist/1")} --seconds ${seconds} --rounds ${rounds} --concurrency ${concurrency} --batch ${batch}\`, ${new Date().toISOString().slice(0, 16)}Z.`,
    `Machine: ${os.cpus()[0]?.model ?? "cpu"} x ${os.cpus().length}, Node ${process.versions.node}; server and load generator share it. ${K} exits, ${fmt(manifest.exits[K - 1]!.flops / 1e6)} MMACs at the last, input ${manifest.input.shape.join("x")}; medians of ${rounds} interleaved rounds; ${concurrency} calls in flight, max batch ${batch}; seeded random inputs; ClassifyStream load from the node:http2 client (test/support/rawStreamLoad.ts), unary from @grpc/grpc-js.`,
    "",
    "| run | images/s | server cores |",
    "|---|---:|---:|",
    ...configs.map(([name]) => `| ${name} | ${fmt(med(name), 0)} | ${name.startsWith("served") ? fmt(med(name, "cores")) : "-"} |`),
    "",
    "| ratio | measured | goal |",
    "|---|---:|---:|",
    `| served forced last (stream) / best raw staged engine (${fmt(bestStaged, 0)}/s) | ${fmt(med("served forced last exit, stream") / bestStaged)} | >= 0.85 |`,
    `| served forced last (unary) / best raw staged engine | ${fmt(med("served forced last exit, unary") / bestStaged)} | >= 0.85 |`,
    `| served forced last (stream) / best whole network as one session (${fmt(bestWhole, 0)}/s) | ${fmt(med("served forced last exit, stream") / bestWhole)} | report |`,
    `| fused path / staged path, forced last (stream) | ${fmt(med("served forced last exit, stream") / med("served forced last exit, stream, fused path off"))}x | report |`,
    `| server cores under saturating load (forced last, stream) | ${fmt(med("served forced last exit, stream", "cores"))} | >= 1.8 |`,
    "",
  ].join("\n");
  console.log(text);
  if (out) writeFileSync(out, text);
});
