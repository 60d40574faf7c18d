/**
 * Adaptive serving throughput across batching settings: each setting a server in its own
 * process at the given budget target, 64 calls in flight over ClassifyStream for --seconds.
 *
 *   npm run bench:batch-sweep -- [--target 0.5] [--seconds 4] [--settings "2:32:2,2:64:2,2:32:5"]   (workers:maxBatch:delayMs)
 */
import { loadManifest } from "../src/format/manifest.js";
import { imageOf, loadFashionMnist, normalise } from "../test/support/fashionMnist.js";
import { runLoad } from "../test/support/loadgen.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, runMain } from "./lib/cli.js";

async function main(): Promise<void> {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const m = await loadManifest(modelDir);
  const set = loadFashionMnist("test");
  const bytes = Array.from({ length: 2000 }, (_, i) => {
    const x = normalise(imageOf(set, i), m.input);
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  });
  const settings = arg("settings", "2:32:2,2:64:2,2:32:5,2:64:5,2:128:5,2:32:0,2:32:0.5,1:32:0").split(",");
  for (const setting of settings) {
    const [workers, maxBatch, delayMs] = setting.split(":");
    const s = await startBenchServer([
      "--model-dir",
      modelDir,
      "--budget-target",
      arg("target", "0.5"),
      "--engine-workers",
      workers!,
      "--max-batch-size",
      maxBatch!,
      "--max-queue-delay-ms",
      delayMs!,
    ]);
    const r = await runLoad({
      address: s.address,
      concurrency: 64,
      durationMs: Number(arg("seconds", "4")) * 1000,
      api: "stream",
      request: (i) => ({ tensor: { shape: [...m.input.shape], data: bytes[i % bytes.length] }, options: { exit: 0 } }),
    });
    const exits = r.exits.map((n) => ((100 * n) / r.requests).toFixed(0)).join("/");
    console.log(
      `workers ${workers}, max batch ${maxBatch}, delay ${delayMs} ms: ${r.throughput.toFixed(0)} img/s, ${(r.meanFlops / 1e6).toFixed(2)} MMACs, p99 ${r.latencyMs.p99.toFixed(0)} ms, exits ${exits}%`,
    );
    await s.stop();
  }
}

runMain(main);
