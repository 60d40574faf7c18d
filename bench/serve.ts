/**
 * Serving benchmark: every figure measured in one run, each the median of `--rounds`
 * interleaved rounds (round r runs every configuration once, in the same order), on the
 * bundled model and the Fashion-MNIST test set:
 *  - raw onnxruntime, no serving: the stages chained per batch and the fused whole-network
 *    graph, at the server's thread settings and at onnxruntime's defaults (every baseline at
 *    its best setting: the best of each kind is the one the ratios use);
 *  - the served pipeline in its own process (closed loop, `--concurrency` calls in flight):
 *    forced last exit and adaptive at 30/50/70% budget targets, unary and ClassifyStream,
 *    with 1 and 2 engine workers, max batch 1, and the fused path off; adaptive 50% as unary
 *    ModelInfer over gRPC, REST with binary tensors and REST with JSON; forced last exit with
 *    `--saturating-concurrency` calls in flight; CPU used per thread. ClassifyStream load comes
 *    from the lean node:http2 client (test/support/rawStreamLoad.ts), and for comparison from
 *    @grpc/grpc-js; unary calls from @grpc/grpc-js (REST: node:http, keep-alive);
 *  - p99 at half of capacity (open loop, medians of `--rounds` interleaved runs, beside the
 *    older checkout of `--baseline-dir` at the same rates), and each load generator's own
 *    ceiling against a server that answers at once;
 *  - the front floor: a grpc-js server on this proto that hands each request to a worker thread
 *    and answers when it comes back (bench/lib/trivialServer.ts --hand-off), over ClassifyStream
 *    and unary, with its main thread's CPU per answer: what a front that reads on its main thread
 *    and computes elsewhere cannot go under. Its replies are held for the forced-last (and adaptive
 *    50%) rows' time in flight of the same round, so it answers at about their rate; run without them
 *    (`--only "front floor"`) it replies at once, at the load generator's rate.
 * Prints the tables and writes docs/results/benchmarks.md, with a plot of throughput and p99
 * against the budget target (benchmarks-targets.svg and .png beside it).
 *
 *   npm run bench:serve -- [--seconds 5] [--rounds 3] [--concurrency 64] [--saturating-concurrency 256] [--batch 32]
 *                          [--model-dir DIR] [--out FILE]
 *                          [--baseline-dir DIR]   (an older checkout: its p99 at the same half-capacity rates, same run)
 *                          [--half-runs N]        (open-loop half-capacity runs per configuration; default --rounds)
 *
 *   Every server runs the compiled build (`npm run build` first, in each checkout), as the Docker
 *   image and `npm start` run it; `--server-from-source` runs the TypeScript source under tsx instead
 *   (any bench takes it).
 *
 *   npm run bench:serve -- --only REGEX [--rounds 1] [--out FILE]
 *     only the configurations whose names match REGEX (e.g. "adaptive 50%|raw whole"): their rows
 *     and the ratios they allow; no half-capacity runs and no plot; prints, and writes FILE only
 *     when --out names one
 *
 *   npm run bench:serve -- --compare-only --baseline-dir DIR [--rounds 3] [--half-runs 5] [--out FILE]
 *     only the comparison with the older checkout: forced last exit and adaptive 50% throughput
 *     (ClassifyStream, closed loop) of both, interleaved, and both p99s at half of this checkout's
 *     capacity; writes docs/results/serve-compare.md unless --out says otherwise.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { autoEngineWorkers, usableCpus } from "../src/core/usableCpus.js";
import { loadManifest } from "../src/format/manifest.js";
import type { ClassifyRequest } from "../src/generated/ranet/v1/ClassifyRequest.js";
import { imageOf, loadFashionMnist, normalise } from "../test/support/fashionMnist.js";
import { type LoadOptions, runOpenLoop } from "../test/support/loadgen.js";
import { encode } from "../test/support/rawGrpc.js";
import { serverEntryNote, startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";
import { type RawSetting, rawThroughput } from "./lib/rawEngine.js";
import { plotTargets } from "./lib/servePlot.js";
import { loadWithCpu } from "./lib/threadCpu.js";

const seconds = Number(arg("seconds", "5"));
const rounds = Number(arg("rounds", "3"));
const concurrency = Number(arg("concurrency", "64"));
const saturating = Number(arg("saturating-concurrency", "256"));
const batch = Number(arg("batch", "32"));
const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
const compareOnly = process.argv.includes("--compare-only");
const out = arg("out", compareOnly ? "docs/results/serve-compare.md" : "docs/results/benchmarks.md");
const baselineDir = arg("baseline-dir", "");
const halfRuns = Number(arg("half-runs", String(rounds)));
/** Only the configurations whose names match (a regular expression): a quick look; no half-capacity runs, no plot, nothing written. */
const only = arg("only", "");
if (compareOnly && !baselineDir) throw new Error("--compare-only needs --baseline-dir (the older checkout to compare with)");
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Figure {
  throughput: number;
  meanFlops?: number;
  p50?: number;
  p99?: number;
  cores?: number;
  /** Cores the server's main thread used (it reads, decodes and answers every call). */
  mainCores?: number;
  threads?: [string, number][];
  /** Raw runs: CPU time per image, microseconds, every thread of the run. */
  cpuUsPerImage?: number;
  /** Cores the load generator (this process) used meanwhile. */
  loadgenCores?: number;
}

/** The adaptive 50% rows with every exit decided on the main thread (exitDecisionsInEngine false), against the default. */
const ADAPTIVE_MAIN_THREAD_STREAM = "served adaptive 50%, stream, exit decisions on the main thread";
const ADAPTIVE_MAIN_THREAD_UNARY = "served adaptive 50%, unary, exit decisions on the main thread";

/** The rows of a front that only reads, hands each request to a worker thread and answers (the main thread's floor). */
const FLOOR_STREAM = "front floor: grpc-js, each request handed to a worker thread, one reply each, at the forced-last stream row's rate, stream";
const FLOOR_UNARY = "front floor: grpc-js, each request handed to a worker thread, one reply each, at the forced-last unary row's rate, unary";
/** Replies per message in the grouped floor rows: about the batches 64 calls in flight make on two workers' two slots each. */
const FLOOR_GROUP = 16;
const FLOOR_STREAM_GROUPED = `front floor: the same, one reply per ${FLOOR_GROUP} requests (as an engine answers a batch), stream`;
const FLOOR_UNARY_GROUPED = `front floor: the same, one reply per ${FLOOR_GROUP} requests (as an engine answers a batch), unary`;
const FLOOR_STREAM_ADAPTIVE = `front floor: one reply per ${FLOOR_GROUP} requests, at the adaptive 50% stream row's rate, stream`;
const FLOOR_UNARY_ADAPTIVE = `front floor: one reply per ${FLOOR_GROUP} requests, at the adaptive 50% unary row's rate, unary`;

interface Config {
  name: string;
  run(): Promise<Figure>;
}

/** A figure for the tables ("-" when missing). */
const fmt = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The requests of one kind (a forced exit, or 0: adaptive), as objects and encoded for the node:http2 client. */
interface Load {
  request: (i: number) => ClassifyRequest;
  body: (i: number) => Buffer;
  /** The same requests as ModelInfer (gRPC or REST): inputs and exit. */
  oip: NonNullable<LoadOptions["oip"]>;
}

/** The served pipeline under closed-loop load; `from`: an older checkout to run the server from. */
async function served(flags: string[], load: Load, api: LoadOptions["api"], inFlight = concurrency, from?: string): Promise<Figure> {
  const model = from ? `${process.cwd()}/${modelDir}` : modelDir;
  const server = await startBenchServer(
    ["--model-dir", model, "--max-batch-size", String(batch), ...flags],
    from ? { cwd: from, adminFlag: false, httpFlag: false } : undefined,
  );
  try {
    const {
      result: r,
      server: cpu,
      loadgenCores,
    } = await loadWithCpu(server.proc.pid!, {
      address: api === "rest-binary" || api === "rest-json" ? server.httpAddress : server.address,
      concurrency: inFlight,
      durationMs: seconds * 1000,
      ...load,
      api,
    });
    return {
      throughput: r.throughput,
      meanFlops: r.meanFlops,
      p50: r.latencyMs.p50,
      p99: r.latencyMs.p99,
      cores: cpu.total,
      mainCores: cpu.main,
      threads: cpu.byThread,
      loadgenCores,
    };
  } finally {
    await server.stop();
  }
}

/**
 * A load generator against a server with a constant answer (bench/lib/trivialServer.ts): at once,
 * its own ceiling; with `handOff`, each request handed to a worker thread that replies
 * `replyAfterMs` later (for up to `group` requests in one message), and answered when the reply
 * comes back: the floor of a front's main-thread CPU per answer. CPU measured as for the server.
 */
async function constantServer(load: Load, api: LoadOptions["api"], handOff?: { replyAfterMs: number; group: number }): Promise<Figure> {
  const flags = handOff ? ["--hand-off", "--reply-after-ms", handOff.replyAfterMs.toFixed(1), "--reply-group", String(handOff.group)] : [];
  const proc = spawn(process.execPath, ["--import", "tsx", "bench/lib/trivialServer.ts", ...flags], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve) => proc.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
  try {
    const {
      result: r,
      server: cpu,
      loadgenCores,
    } = await loadWithCpu(proc.pid!, { address: `127.0.0.1:${port}`, concurrency, durationMs: seconds * 1000, ...load, api });
    return { throughput: r.throughput, p50: r.latencyMs.p50, p99: r.latencyMs.p99, cores: cpu.total, mainCores: cpu.main, threads: cpu.byThread, loadgenCores };
  } finally {
    proc.kill();
  }
}

/** p99 latency at a fixed offered rate (open loop over ClassifyStream). */
async function p99At(rate: number, flags: string[], request: (i: number) => ClassifyRequest, from?: string): Promise<Figure> {
  const model = from ? `${process.cwd()}/${modelDir}` : modelDir;
  const server = await startBenchServer(
    ["--model-dir", model, "--max-batch-size", String(batch), ...flags],
    from ? { cwd: from, adminFlag: false, httpFlag: false } : undefined,
  );
  try {
    await runOpenLoop({ address: server.address, rate, durationMs: 1500, request }); // warm-up
    const r = await runOpenLoop({ address: server.address, rate, durationMs: seconds * 1000, request });
    return { throughput: r.okPerSecond, meanFlops: r.okMeanFlops, p50: r.okLatencyMs.p50, p99: r.okLatencyMs.p99 };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const K = manifest.exits.length;
  const set = loadFashionMnist("test");
  const inputs = Array.from({ length: 2000 }, (_, i) => normalise(imageOf(set, i), manifest.input));
  const bytes = inputs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const req = (exit: number): Load => {
    const request = (i: number) => ({ tensor: { shape: [...manifest.input.shape], data: bytes[i % bytes.length] }, options: { exit } });
    const bodies = bytes.map((_, i) => encode("ranet.v1.ClassifyRequest", request(i)));
    return { request, body: (i) => bodies[i % bodies.length]!, oip: { model: manifest.name, inputs: bytes, shape: manifest.input.shape, exit } };
  };
  const last = req(K);
  const adaptive = req(0);
  const cpus = usableCpus();
  const auto = autoEngineWorkers("cpu", cpus.cpus);
  const raw = (name: string, s: RawSetting): Config => ({ name, run: () => rawThroughput(manifest, inputs, batch, s, seconds) });
  const target = (t: number) => ["--budget-target", String(t)];
  const configs: Config[] = [
    // raw onnxruntime: sessions called directly in threads of their own (bench/lib/rawEngine.ts)
    raw(`raw staged, ${auto} thread(s), intra-op 1 (the server's threads)`, { graph: "staged", workers: auto, intraOpThreads: 1 }),
    raw("raw staged, 1 thread, onnxruntime's default threads", { graph: "staged", workers: 1, intraOpThreads: 0 }),
    raw(`raw whole network (one session), ${auto} thread(s), intra-op 1 (the server's threads)`, { graph: "whole", workers: auto, intraOpThreads: 1 }),
    raw("raw whole network (one session), 1 thread, onnxruntime's default threads", { graph: "whole", workers: 1, intraOpThreads: 0 }),
    { name: "served forced last exit, unary", run: () => served([], last, "unary") },
    { name: "served forced last exit, stream", run: () => served([], last, "h2stream") },
    { name: "served forced last exit, stream, grpc-js client", run: () => served([], last, "stream") },
    { name: `served forced last exit, stream, ${saturating} in flight`, run: () => served([], last, "h2stream", saturating) },
    { name: "served forced last exit, stream, fused path off", run: () => served(["--fused-path", "false"], last, "h2stream") },
    { name: "served forced last exit, stream, 1 engine worker", run: () => served(["--engine-workers", "1"], last, "h2stream") },
    { name: "served forced last exit, stream, 2 engine workers", run: () => served(["--engine-workers", "2"], last, "h2stream") },
    { name: "served forced last exit, stream, dispatch when idle off", run: () => served(["--dispatch-when-idle", "false"], last, "h2stream") },
    { name: "served forced last exit, stream, max batch 1", run: () => served(["--max-batch-size", "1", "--max-queue-delay-ms", "0"], last, "h2stream") },
    { name: "served adaptive 30%, stream", run: () => served(target(0.3), adaptive, "h2stream") },
    { name: "served adaptive 50%, stream", run: () => served(target(0.5), adaptive, "h2stream") },
    { name: "served adaptive 70%, stream", run: () => served(target(0.7), adaptive, "h2stream") },
    { name: "served adaptive 50%, stream, grpc-js client", run: () => served(target(0.5), adaptive, "stream") },
    { name: "served adaptive 50%, stream, dispatch when idle off", run: () => served([...target(0.5), "--dispatch-when-idle", "false"], adaptive, "h2stream") },
    { name: "served adaptive 50%, unary", run: () => served(target(0.5), adaptive, "unary") },
    {
      name: ADAPTIVE_MAIN_THREAD_STREAM,
      run: () => served([...target(0.5), "--exit-decisions-in-engine", "false"], adaptive, "h2stream"),
    },
    {
      name: ADAPTIVE_MAIN_THREAD_UNARY,
      run: () => served([...target(0.5), "--exit-decisions-in-engine", "false"], adaptive, "unary"),
    },
    { name: "served adaptive 50%, unary ModelInfer, gRPC", run: () => served(target(0.5), adaptive, "oip-grpc") },
    { name: "served adaptive 50%, unary ModelInfer, REST binary", run: () => served(target(0.5), adaptive, "rest-binary") },
    { name: "served adaptive 50%, unary ModelInfer, REST JSON", run: () => served(target(0.5), adaptive, "rest-json") },
    { name: "served adaptive 50%, stream, 1 engine worker", run: () => served([...target(0.5), "--engine-workers", "1"], adaptive, "h2stream") },
    { name: "served adaptive 50%, stream, 2 engine workers", run: () => served([...target(0.5), "--engine-workers", "2"], adaptive, "h2stream") },
    { name: "load generator ceiling (stream, node:http2 client, server answers at once)", run: () => constantServer(last, "h2stream") },
    { name: "load generator ceiling (stream, grpc-js client, server answers at once)", run: () => constantServer(last, "stream") },
    { name: FLOOR_STREAM, run: () => floor("h2stream", "served forced last exit, stream", 1) },
    { name: FLOOR_UNARY, run: () => floor("unary", "served forced last exit, unary", 1) },
    { name: FLOOR_STREAM_GROUPED, run: () => floor("h2stream", "served forced last exit, stream", FLOOR_GROUP) },
    { name: FLOOR_UNARY_GROUPED, run: () => floor("unary", "served forced last exit, unary", FLOOR_GROUP) },
    { name: FLOOR_STREAM_ADAPTIVE, run: () => floor("h2stream", "served adaptive 50%, stream", FLOOR_GROUP) },
    { name: FLOOR_UNARY_ADAPTIVE, run: () => floor("unary", "served adaptive 50%, unary", FLOOR_GROUP) },
  ];
  /**
   * The front floor over `api` at about the answer rate of row `row` in this round: replies held
   * for its mean time in flight (its calls in flight over its answers per second; none before it ran).
   */
  const floor = (api: LoadOptions["api"], row: string, group: number) => {
    const f = results.get(row)?.at(-1);
    return constantServer(last, api, { replyAfterMs: f ? (1000 * concurrency) / f.throughput : 0, group });
  };
  if (compareOnly) {
    configs.splice(0, configs.length, ...compareConfigs(last, adaptive, target(0.5)));
  }
  if (only) configs.splice(0, configs.length, ...configs.filter((c) => new RegExp(only).test(c.name)));
  const results = new Map<string, Figure[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      const f = await c.run();
      results.get(c.name)!.push(f);
      log(`round ${r + 1}/${rounds}: ${c.name}: ${f.throughput.toFixed(0)} img/s${f.cores !== undefined ? `, ${f.cores.toFixed(2)} cores` : ""}`);
    }
  }
  const med = (name: string, key: keyof Figure = "throughput") => median((results.get(name) ?? []).map((f) => Number(f[key] ?? Number.NaN)));
  // p99 at half of the measured capacity, forced last exit and adaptive 50%; with --baseline-dir
  // the older checkout at the same rates; `rounds` interleaved rounds, medians reported
  const halfRate = compareOnly
    ? { last: med(THIS_LAST) / 2, adaptive: med(THIS_ADAPTIVE) / 2 }
    : { last: med("served forced last exit, stream") / 2, adaptive: med("served adaptive 50%, stream") / 2 };
  const halfConfigs: { name: string; run: () => Promise<Figure> }[] = only
    ? []
    : [
        { name: "last", run: () => p99At(halfRate.last, [], last.request) },
        { name: "adaptive", run: () => p99At(halfRate.adaptive, target(0.5), adaptive.request) },
        ...(baselineDir
          ? [
              { name: "base last", run: () => p99At(halfRate.last, [], last.request, baselineDir) },
              { name: "base adaptive", run: () => p99At(halfRate.adaptive, target(0.5), adaptive.request, baselineDir) },
            ]
          : []),
      ];
  const half = new Map<string, Figure[]>(halfConfigs.map((c) => [c.name, []]));
  for (let r = 0; r < halfRuns; r++) {
    for (const c of halfConfigs) {
      const f = await c.run();
      half.get(c.name)!.push(f);
      log(`run ${r + 1}/${halfRuns}: half capacity, ${c.name}: p50 ${f.p50?.toFixed(1)} ms, p99 ${f.p99?.toFixed(1)} ms`);
    }
  }
  const halfMed = (name: string): Figure => {
    const fs = half.get(name) ?? [];
    const m = (key: keyof Figure) => median(fs.map((f) => Number(f[key] ?? Number.NaN)));
    return { throughput: m("throughput"), meanFlops: m("meanFlops"), p50: m("p50"), p99: m("p99") };
  };
  const halfLast = halfMed("last");
  const halfAdaptive = halfMed("adaptive");
  const baseLast = baselineDir ? halfMed("base last") : undefined;
  const baseAdaptive = baselineDir ? halfMed("base adaptive") : undefined;
  if (compareOnly) {
    const cpuUs = (name: string, which: "main" | "whole") =>
      median((results.get(name) ?? []).map((f) => (((which === "main" ? f.mainCores : f.cores) ?? Number.NaN) * 1e6) / f.throughput));
    const report = compareReport(manifest, med, cpuUs, halfLast, halfAdaptive, baseLast!, baseAdaptive!, { last: halfRate.last, adaptive: halfRate.adaptive });
    writeFileSync(out, report);
    console.log(report);
    return;
  }

  // forced last exit against the better of raw staged and raw whole network at the server's threads
  const rawServerThreads = Math.max(...configs.filter((c) => c.name.startsWith("raw") && c.name.endsWith("(the server's threads)")).map((c) => med(c.name)));
  const bestWhole = Math.max(...configs.filter((c) => c.name.startsWith("raw whole")).map((c) => med(c.name)));
  const saturatingRow = `served forced last exit, stream, ${saturating} in flight`;
  const rawSameThreads = med(`raw staged, ${auto} thread(s), intra-op 1 (the server's threads)`);
  const threadsOf = (name: string) =>
    ((results.get(name) ?? []).at(-1)?.threads ?? [])
      .filter(([, c]) => c > 0.02)
      .slice(0, 4)
      .map(([, c]) => c.toFixed(2))
      .join(", ");
  // CPU per answer, microseconds: each round's cores over its answers, then the median of the rounds
  const usPer = (name: string, cores: (f: Figure) => number | undefined) =>
    median((results.get(name) ?? []).map((f) => ((cores(f) ?? Number.NaN) * 1e6) / f.throughput));
  const mainUs = (name: string) => usPer(name, (f) => f.mainCores);
  const otherUs = (name: string) => usPer(name, (f) => (f.cores === undefined || f.mainCores === undefined ? undefined : f.cores - f.mainCores));
  const wholeUs = (name: string) => (name.startsWith("raw") ? med(name, "cpuUsPerImage") : usPer(name, (f) => f.cores));
  const rows = configs.map(
    (c) =>
      `| ${c.name} | ${fmt(med(c.name), 0)} | ${fmt(med(c.name, "meanFlops") / 1e6, 2)} | ${fmt(med(c.name, "p50"))} / ${fmt(med(c.name, "p99"))} | ${fmt(mainUs(c.name), 0)} | ${fmt(otherUs(c.name), 0)} | ${fmt(wholeUs(c.name), 0)} | ${fmt(med(c.name, "cores"), 2)} | ${threadsOf(c.name) || "-"} | ${fmt(med(c.name, "loadgenCores"), 2)} |`,
  );
  const rawWhole2 = `raw whole network (one session), ${auto} thread(s), intra-op 1 (the server's threads)`;
  const rawWholeUs = wholeUs(rawWhole2);
  const bothCores = (name: string) => median((results.get(name) ?? []).map((f) => (f.cores ?? Number.NaN) + (f.loadgenCores ?? Number.NaN)));
  const text = [
    "# Serving benchmark",
    "",
    `\`npm run bench:serve -- --seconds ${seconds} --rounds ${rounds} --concurrency ${concurrency} --saturating-concurrency ${saturating} --batch ${batch}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}.`,
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"} (${cpus.cpus} usable: ${cpus.source}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, onnxruntime CPU provider; server and load generator share the machine. Medians of ${rounds} interleaved rounds; served runs in their own process (${serverEntryNote()}), closed loop, ${concurrency} calls in flight unless the row says otherwise, max batch ${batch}. ClassifyStream load comes from the node:http2 client of test/support/rawStreamLoad.ts (4 streams) unless the row says grpc-js; unary calls and the open-loop half-capacity runs (medians of ${rounds} interleaved runs) use @grpc/grpc-js; REST rows node:http with keep-alive (one connection per call in flight), one image per call, binary rows with Triton's binary tensor data both ways.`,
    "",
    "CPU per answer: the server's CPU time in the measuring window (per thread, from /proc/PID/task) over its answers, in microseconds: its main thread (gRPC, decoding, admission, answers), its other threads (engine workers, V8's helpers) and the whole server; for raw rows, the CPU time of the threads that call onnxruntime, per image.",
    "",
    `The front floor rows: a grpc-js server on this proto (bench/lib/trivialServer.ts --hand-off) that copies each request's tensor to a worker thread in one message and writes a constant answer when the worker replies, the reply held for the mean time in flight of the forced-last (or adaptive 50%) row of the same round (${concurrency} in flight over its answers per second), so that it answers at about that row's rate: per-answer costs on a main thread fall as more requests share a turn of its event loop, so the served rows' main-thread CPU is compared with the floor at about their own rate (the floor's images/s column says how near). One reply message per request, or per ${FLOOR_GROUP} requests as an engine answers a batch.`,
    "",
    "| run | images/s | mean MMACs | latency p50 / p99 ms | main thread us/answer | other threads us/answer | whole server (raw: all) us/answer | server cores | its busiest threads (cores each) | load generator cores |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ...rows,
    `| p99 at half capacity, forced last exit (${fmt(med("served forced last exit, stream") / 2, 0)}/s offered, open loop) | ${fmt(halfLast.throughput, 0)} | ${fmt((halfLast.meanFlops ?? 0) / 1e6, 2)} | ${fmt(halfLast.p50)} / ${fmt(halfLast.p99)} | - | - | - | - | - | - |`,
    `| p99 at half capacity, adaptive 50% (${fmt(med("served adaptive 50%, stream") / 2, 0)}/s offered, open loop) | ${fmt(halfAdaptive.throughput, 0)} | ${fmt((halfAdaptive.meanFlops ?? 0) / 1e6, 2)} | ${fmt(halfAdaptive.p50)} / ${fmt(halfAdaptive.p99)} | - | - | - | - | - | - |`,
    ...(baseLast && baseAdaptive
      ? [
          `| the same half-capacity rates on ${baselineDir} (the code before): forced last exit | ${fmt(baseLast.throughput, 0)} | ${fmt((baseLast.meanFlops ?? 0) / 1e6, 2)} | ${fmt(baseLast.p50)} / ${fmt(baseLast.p99)} | - | - | - | - | - | - |`,
          `| the same half-capacity rates on ${baselineDir} (the code before): adaptive 50% | ${fmt(baseAdaptive.throughput, 0)} | ${fmt((baseAdaptive.meanFlops ?? 0) / 1e6, 2)} | ${fmt(baseAdaptive.p50)} / ${fmt(baseAdaptive.p99)} | - | - | - | - | - | - |`,
        ]
      : []),
    "",
    "| ratio | measured | goal |",
    "|---|---:|---:|",
    `| main-thread CPU per answer, adaptive 50% over ClassifyStream (us) | ${fmt(mainUs("served adaptive 50%, stream"), 0)} | <= 70 |`,
    `| main-thread CPU per answer, forced last exit over ClassifyStream (us) | ${fmt(mainUs("served forced last exit, stream"), 0)} | <= 70 |`,
    `| main-thread CPU per answer, adaptive 50% unary (us) | ${fmt(mainUs("served adaptive 50%, unary"), 0)} | <= 150 |`,
    `| main-thread CPU per answer, forced last exit unary (us) | ${fmt(mainUs("served forced last exit, unary"), 0)} | <= 150 |`,
    `| main-thread CPU per answer of the front floor at the forced-last row's rate, one reply per request; per ${FLOOR_GROUP} (stream; unary, us) | ${fmt(mainUs(FLOOR_STREAM), 0)}, ${fmt(mainUs(FLOOR_STREAM_GROUPED), 0)}; ${fmt(mainUs(FLOOR_UNARY), 0)}, ${fmt(mainUs(FLOOR_UNARY_GROUPED), 0)} | report |`,
    `| main-thread CPU per answer / the front floor's at the same row's rate (one reply per ${FLOOR_GROUP}), forced last exit; adaptive 50% (stream) | ${fmt(mainUs("served forced last exit, stream") / mainUs(FLOOR_STREAM_GROUPED), 2)}; ${fmt(mainUs("served adaptive 50%, stream") / mainUs(FLOOR_STREAM_ADAPTIVE), 2)} | report |`,
    `| main-thread CPU per answer / the front floor's at the same row's rate (one reply per ${FLOOR_GROUP}), forced last exit; adaptive 50% (unary) | ${fmt(mainUs("served forced last exit, unary") / mainUs(FLOOR_UNARY_GROUPED), 2)}; ${fmt(mainUs("served adaptive 50%, unary") / mainUs(FLOOR_UNARY_ADAPTIVE), 2)} | report |`,
    `| main-thread CPU per answer, adaptive 50% over ClassifyStream, exit decisions on the main thread (us) | ${fmt(mainUs(ADAPTIVE_MAIN_THREAD_STREAM), 0)} | report |`,
    `| main-thread CPU per answer, adaptive 50% unary, exit decisions on the main thread (us) | ${fmt(mainUs(ADAPTIVE_MAIN_THREAD_UNARY), 0)} | report |`,
    `| exit decisions in the engine (the default at 50%) / on the main thread, main-thread CPU per answer, adaptive 50% (stream; unary) | ${fmt(mainUs("served adaptive 50%, stream") / mainUs(ADAPTIVE_MAIN_THREAD_STREAM), 2)}; ${fmt(mainUs("served adaptive 50%, unary") / mainUs(ADAPTIVE_MAIN_THREAD_UNARY), 2)} | report |`,
    `| exit decisions in the engine (the default at 50%) / on the main thread, images/s, adaptive 50% (stream; unary) | ${fmt(med("served adaptive 50%, stream") / med(ADAPTIVE_MAIN_THREAD_STREAM), 2)}; ${fmt(med("served adaptive 50%, unary") / med(ADAPTIVE_MAIN_THREAD_UNARY), 2)} | report |`,
    `| whole-server CPU per forced-last answer (stream) / raw whole network's CPU per image (${fmt(rawWholeUs, 0)} us, ${auto} threads) | ${fmt(wholeUs("served forced last exit, stream") / rawWholeUs, 2)} | <= 1.2 |`,
    `| whole-server CPU per adaptive 50% answer (stream) / the same raw CPU per image (the FLOPs ideal: ${fmt(med("served adaptive 50%, stream", "meanFlops") / manifest.exits[K - 1]!.flops, 2)}) | ${fmt(wholeUs("served adaptive 50%, stream") / rawWholeUs, 2)} | <= 0.7 |`,
    `| cores used by server and load generator together, adaptive 50% (stream, ${concurrency} in flight) | ${fmt(bothCores("served adaptive 50%, stream"), 2)} | >= 1.9 |`,
    `| served adaptive 50% (stream) / raw whole network in ${auto} threads (${fmt(med(rawWhole2), 0)}/s) | ${(med("served adaptive 50%, stream") / med(rawWhole2)).toFixed(2)} | >= 1.2 |`,
    `| REST binary / gRPC, unary ModelInfer, adaptive 50%, ${concurrency} in flight | ${(med("served adaptive 50%, unary ModelInfer, REST binary") / med("served adaptive 50%, unary ModelInfer, gRPC")).toFixed(2)} | >= 0.8 |`,
    `| REST binary ModelInfer / gRPC unary Classify, adaptive 50% | ${(med("served adaptive 50%, unary ModelInfer, REST binary") / med("served adaptive 50%, unary")).toFixed(2)} | >= 0.8 |`,
    `| REST JSON / gRPC, unary ModelInfer, adaptive 50% | ${(med("served adaptive 50%, unary ModelInfer, REST JSON") / med("served adaptive 50%, unary ModelInfer, gRPC")).toFixed(2)} | report |`,
    `| served forced last (stream) / better of raw staged and raw whole network at the server's threads (${fmt(rawServerThreads, 0)}/s) | ${(med("served forced last exit, stream") / rawServerThreads).toFixed(2)} | >= 0.85 |`,
    `| served forced last (unary) / the same raw baseline | ${(med("served forced last exit, unary") / rawServerThreads).toFixed(2)} | >= 0.85 |`,
    `| served forced last (stream) / raw staged at the server's threads (${fmt(rawSameThreads, 0)}/s) | ${(med("served forced last exit, stream") / rawSameThreads).toFixed(2)} | report |`,
    `| served adaptive 50% (stream) / raw whole network as one session at its best (${fmt(bestWhole, 0)}/s) | ${(med("served adaptive 50%, stream") / bestWhole).toFixed(2)} | >= 1.2 |`,
    `| server cores under saturating load (forced last, stream, ${saturating} in flight: ${fmt(med(saturatingRow), 0)} img/s against ${fmt(med("served forced last exit, stream"), 0)} at ${concurrency}) | ${fmt(med(saturatingRow, "cores"), 2)} | >= 1.8 |`,
    `| server cores, forced last (stream), ${concurrency} in flight | ${fmt(med("served forced last exit, stream", "cores"), 2)} | report |`,
    `| served adaptive 50% (stream, grpc-js client) / best whole network as one session | ${(med("served adaptive 50%, stream, grpc-js client") / bestWhole).toFixed(2)} | report |`,
    `| node:http2 / grpc-js load generator, adaptive 50% (stream) | ${(med("served adaptive 50%, stream") / med("served adaptive 50%, stream, grpc-js client")).toFixed(2)}x | report |`,
    `| node:http2 / grpc-js load generator, forced last (stream) | ${(med("served forced last exit, stream") / med("served forced last exit, stream, grpc-js client")).toFixed(2)}x | report |`,
    ...(baseLast && baseAdaptive
      ? [
          `| p99 at half capacity, this / ${baselineDir} at the same rate: forced last exit | ${fmt(halfLast.p99)} / ${fmt(baseLast.p99)} ms = ${((halfLast.p99 ?? Number.NaN) / (baseLast.p99 ?? Number.NaN)).toFixed(2)} | <= 1 (no worse) |`,
          `| p99 at half capacity, this / ${baselineDir} at the same rate: adaptive 50% | ${fmt(halfAdaptive.p99)} / ${fmt(baseAdaptive.p99)} ms = ${((halfAdaptive.p99 ?? Number.NaN) / (baseAdaptive.p99 ?? Number.NaN)).toFixed(2)} | <= 1 (no worse) |`,
        ]
      : []),
    `| fused path / staged path, forced last (stream) | ${(med("served forced last exit, stream") / med("served forced last exit, stream, fused path off")).toFixed(2)}x | report |`,
    `| 2 / 1 engine workers, forced last (stream) | ${(med("served forced last exit, stream, 2 engine workers") / med("served forced last exit, stream, 1 engine worker")).toFixed(2)}x | report |`,
    `| dispatch when idle on / off, adaptive 50% (stream) | ${(med("served adaptive 50%, stream") / med("served adaptive 50%, stream, dispatch when idle off")).toFixed(2)}x | report |`,
    `| dispatch when idle on / off, forced last (stream) | ${(med("served forced last exit, stream") / med("served forced last exit, stream, dispatch when idle off")).toFixed(2)}x | report |`,
    `| 2 / 1 engine workers, adaptive 50% (stream) | ${(med("served adaptive 50%, stream, 2 engine workers") / med("served adaptive 50%, stream, 1 engine worker")).toFixed(2)}x | report |`,
    "",
  ].join("\n");
  if (only) {
    // the rows it ran, the ratios it can compute; written only where --out says
    const ran = text
      .split("\n")
      .filter((l) => !/NaN|Infinity|\| - \| (<=|>=|report)/.test(l) && !l.startsWith("| p99 at half capacity"))
      .join("\n")
      .replace("`npm run bench:serve -- ", `\`npm run bench:serve -- --only "${only}" `);
    if (process.argv.includes("--out")) writeFileSync(out, ran);
    console.log(ran);
    return;
  }
  const plotFile = `${out.replace(/\.md$/, "")}-targets`;
  const point = (targetPercent: number, name: string) => ({ targetPercent, imagesPerS: med(name), p99Ms: med(name, "p99") });
  await plotTargets(
    [30, 50, 70].map((t) => point(t, `served adaptive ${t}%, stream`)).concat(point(100, "served forced last exit, stream")),
    bestWhole,
    `${manifest.name} v${manifest.version} over ClassifyStream, ${concurrency} in flight, medians of ${rounds} rounds (bench:serve)`,
    plotFile,
  );
  writeFileSync(out, `${text}\n![throughput and p99 latency against the budget target](${path.basename(plotFile)}.svg)\n`);
  console.log(text);
}

const THIS_LAST = "this checkout: forced last exit, stream";
const THIS_ADAPTIVE = "this checkout: adaptive 50%, stream";
const BASE_LAST = "older checkout: forced last exit, stream";
const BASE_ADAPTIVE = "older checkout: adaptive 50%, stream";

/** The closed-loop runs of --compare-only, both checkouts interleaved; named so the half-capacity rates come from this checkout's. */
function compareConfigs(last: Load, adaptive: Load, target50: string[]): Config[] {
  return [
    { name: THIS_LAST, run: () => served([], last, "h2stream") },
    { name: BASE_LAST, run: () => served([], last, "h2stream", concurrency, baselineDir) },
    { name: THIS_ADAPTIVE, run: () => served(target50, adaptive, "h2stream") },
    { name: BASE_ADAPTIVE, run: () => served(target50, adaptive, "h2stream", concurrency, baselineDir) },
  ];
}

function compareReport(
  manifest: { name: string; version: string },
  med: (name: string, key?: keyof Figure) => number,
  cpuUs: (name: string, which: "main" | "whole") => number,
  halfLast: Figure,
  halfAdaptive: Figure,
  baseLast: Figure,
  baseAdaptive: Figure,
  rate: { last: number; adaptive: number },
): string {
  const ratio = (a: number | undefined, b: number | undefined) => fmt((a ?? Number.NaN) / (b ?? Number.NaN), 2);
  return [
    "# This checkout beside an older one",
    "",
    `\`npm run bench:serve -- --compare-only --baseline-dir DIR --seconds ${seconds} --rounds ${rounds} --half-runs ${halfRuns} --concurrency ${concurrency} --batch ${batch}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}.`,
    `DIR: the older checkout (for example an earlier commit checked out with \`git worktree add DIR <commit>\`, this checkout's node_modules linked in); both serve this checkout's model folder. Machine: ${machine()}, onnxruntime CPU provider; servers (${serverEntryNote()}) and load generators share the machine. Throughput: ClassifyStream, closed loop, ${concurrency} in flight, node:http2 client, medians of ${rounds} interleaved rounds. p99: open loop (@grpc/grpc-js) at half of this checkout's capacity, medians of ${halfRuns} interleaved runs.`,
    "",
    "| run | this checkout | older checkout | this / older | goal |",
    "|---|---:|---:|---:|---:|",
    `| forced last exit, images/s | ${fmt(med(THIS_LAST), 0)} | ${fmt(med(BASE_LAST), 0)} | ${ratio(med(THIS_LAST), med(BASE_LAST))} | >= 0.95 |`,
    `| adaptive 50%, images/s | ${fmt(med(THIS_ADAPTIVE), 0)} | ${fmt(med(BASE_ADAPTIVE), 0)} | ${ratio(med(THIS_ADAPTIVE), med(BASE_ADAPTIVE))} | >= 0.95 |`,
    `| forced last exit, p99 ms at ${fmt(rate.last, 0)}/s | ${fmt(halfLast.p99)} | ${fmt(baseLast.p99)} | ${ratio(halfLast.p99, baseLast.p99)} | <= 1.25 |`,
    `| adaptive 50%, p99 ms at ${fmt(rate.adaptive, 0)}/s | ${fmt(halfAdaptive.p99)} | ${fmt(baseAdaptive.p99)} | ${ratio(halfAdaptive.p99, baseAdaptive.p99)} | <= 1.25 |`,
    `| forced last exit, main-thread CPU per answer, us | ${fmt(cpuUs(THIS_LAST, "main"), 0)} | ${fmt(cpuUs(BASE_LAST, "main"), 0)} | ${ratio(cpuUs(THIS_LAST, "main"), cpuUs(BASE_LAST, "main"))} | report |`,
    `| adaptive 50%, main-thread CPU per answer, us | ${fmt(cpuUs(THIS_ADAPTIVE, "main"), 0)} | ${fmt(cpuUs(BASE_ADAPTIVE, "main"), 0)} | ${ratio(cpuUs(THIS_ADAPTIVE, "main"), cpuUs(BASE_ADAPTIVE, "main"))} | report |`,
    `| forced last exit, whole-server CPU per answer, us | ${fmt(cpuUs(THIS_LAST, "whole"), 0)} | ${fmt(cpuUs(BASE_LAST, "whole"), 0)} | ${ratio(cpuUs(THIS_LAST, "whole"), cpuUs(BASE_LAST, "whole"))} | report |`,
    `| adaptive 50%, whole-server CPU per answer, us | ${fmt(cpuUs(THIS_ADAPTIVE, "whole"), 0)} | ${fmt(cpuUs(BASE_ADAPTIVE, "whole"), 0)} | ${ratio(cpuUs(THIS_ADAPTIVE, "whole"), cpuUs(BASE_ADAPTIVE, "whole"))} | report |`,
    `| forced last exit, p50 ms at ${fmt(rate.last, 0)}/s | ${fmt(halfLast.p50)} | ${fmt(baseLast.p50)} | ${ratio(halfLast.p50, baseLast.p50)} | report |`,
    `| adaptive 50%, p50 ms at ${fmt(rate.adaptive, 0)}/s | ${fmt(halfAdaptive.p50)} | ${fmt(baseAdaptive.p50)} | ${ratio(halfAdaptive.p50, baseAdaptive.p50)} | report |`,
    "",
  ].join("\n");
}

runMain(main);
