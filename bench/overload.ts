/**
 * Overload benchmark: for each traffic kind, measure the served capacity (closed loop), then
 * offer twice that rate open-loop and report what was shed, what was answered and the latency
 * of the answered requests, with admission by queueing time on (maxQueueWaitMs) and off (0:
 * only the queue-size bound), and with load-adaptive mode (the FLOPs target lowered while the
 * queue is long). Writes docs/results/overload.md.
 *
 *   npm run bench:overload -- [--seconds 8] [--factor 2] [--max-queue-wait-ms 100] [--engine-workers N]
 *                             [--model-dir DIR] [--out docs/results/overload.md]
 */
import { writeFileSync } from "node:fs";
import { loadManifest } from "../src/format/manifest.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { type OpenLoopResult, runLoad, runOpenLoop } from "../test/support/loadgen.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";

const seconds = Number(arg("seconds", "8"));
const factor = Number(arg("factor", "2"));
const waitMs = arg("max-queue-wait-ms", "100");
const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
const out = arg("out", "docs/results/overload.md");
const engineWorkers = arg("engine-workers", "0");
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Run {
  traffic: string;
  admission: string;
  capacity: number;
  load: OpenLoopResult;
  /** Top-1 accuracy of the OK answers. */
  accuracy: number;
}

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const set = loadFashionMnist("test");
  const bytes = tensorBytesOf(set, 2000, manifest.input);
  const request = (i: number) => ({ tensor: { shape: manifest.input.shape, data: bytes[i % bytes.length] } });
  const runs: Run[] = [];
  for (const [traffic, target] of [
    ["deep (budget target 1.0)", "1"],
    ["adaptive (budget target 0.5)", "0.5"],
  ] as const) {
    let capacity = 0; // measured on the first configuration, offered alike to all three
    for (const [wait, adaptive] of [
      [waitMs, false],
      [waitMs, true],
      ["0", false],
    ] as const) {
      const admission = wait === "0" ? "queue size only (maxQueueWaitMs 0)" : `maxQueueWaitMs ${wait}${adaptive ? " + loadAdaptive" : ""}`;
      const server = await startBenchServer([
        "--model-dir",
        modelDir,
        "--budget-target",
        target,
        "--max-queue-wait-ms",
        wait,
        "--load-adaptive",
        String(adaptive),
        "--engine-workers",
        engineWorkers,
      ]);
      try {
        if (capacity === 0) {
          log(`${traffic}: capacity ...`);
          capacity = (await runLoad({ address: server.address, concurrency: 64, api: "stream", durationMs: 4000, warmupMs: 1000, request })).throughput;
        }
        log(`${traffic}, ${admission}: offering ${(factor * capacity).toFixed(0)}/s for ${seconds} s ...`);
        let right = 0;
        const load = await runOpenLoop({
          address: server.address,
          rate: factor * capacity,
          durationMs: seconds * 1000,
          request,
          onAnswer: (i, res) => void (res.class_index === set.labels[i % bytes.length] && right++),
        });
        log(`  ${JSON.stringify(load.codes)}, OK p99 ${load.okLatencyMs.p99.toFixed(0)} ms`);
        runs.push({ traffic, admission, capacity, load, accuracy: right / Math.max(1, load.codes.OK ?? 0) });
      } finally {
        await server.stop();
      }
    }
  }
  const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(1)}%`;
  const text = [
    "# Overload benchmark",
    "",
    `\`npm run bench:overload -- --seconds ${seconds} --factor ${factor} --max-queue-wait-ms ${waitMs} --engine-workers ${engineWorkers}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}.`,
    `Machine: ${machine()}; server (default settings otherwise) and load generator share the machine.`,
    `Capacity: closed loop, 64 requests in flight on 4 ClassifyStream streams (refused ones retried after 10 ms), measured on the first configuration of each traffic kind. Overload: ${factor}x that rate, open loop, for ${seconds} s, the same for all three configurations. Images: the first 2,000 of the Fashion-MNIST test set, cycled.`,
    "",
    "| traffic | admission | capacity /s | offered /s | sent | OK | RESOURCE_EXHAUSTED | other / unanswered | OK latency p50 / p99 / max ms | p99 by second sent, ms | OK mean MMACs | OK top-1 |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ...runs.map((r) => {
      const l = r.load;
      const ok = l.codes.OK ?? 0;
      const shed = l.codes.RESOURCE_EXHAUSTED ?? 0;
      const other = l.sent - ok - shed;
      return `| ${r.traffic} | ${r.admission} | ${r.capacity.toFixed(0)} | ${l.sentPerSecond.toFixed(0)} | ${l.sent} | ${ok} | ${shed} (${pct(shed, l.sent)}) | ${other} / ${l.unanswered} | ${l.okLatencyMs.p50.toFixed(0)} / ${l.okLatencyMs.p99.toFixed(0)} / ${l.okLatencyMs.max.toFixed(0)} | ${l.okP99BySecondMs.map((x) => x.toFixed(0)).join(" ")} | ${(l.okMeanFlops / 1e6).toFixed(2)} | ${(100 * r.accuracy).toFixed(2)}% |`;
    }),
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
