/**
 * Traces the budget controller through a real server over one adversarial order of the
 * validation images (the orders of tune:controller --server): the mean cost per block of
 * requests in the order sent, and the knob's terms (GetBudget: feed-forward, integral, the
 * commit-time term of the charges in flight, the knob) every --every-ms while they stream. A
 * first pass of the i.i.d. order at the same target warms the controller up, as the runs before
 * it do in tune:controller. Environment variables reach the server (RANET_EXIT_DECISIONS_IN_ENGINE
 * and the other settings of docs/reference.md). Prints only; writes no file.
 *
 *   npm run trace:controller -- [--order "easiest to hardest"] [--target 0.7] [--in-flight 64]
 *                               [--block 500] [--every-ms 250] [--model-dir models/repository/ranet-fmnist/1]
 *
 * --order names one of: i.i.d., easiest to hardest, hardest to easiest, easy half then hard half,
 * easy half then hardest first, corrupted blocks (a prefix is enough).
 */

import { targetFlopsOf } from "../src/budget/budgetTarget.js";
import { makeClients, unary } from "../src/cli/clients.js";
import { startBenchServer } from "./lib/benchServer.js";
import { streamAll, validationStreams } from "./lib/budgetStreams.js";
import { arg, runMain } from "./lib/cli.js";

runMain(async () => {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const { manifest, streams } = await validationStreams(modelDir);
  const wanted = arg("order", "easiest to hardest").replace(/,/g, "");
  const stream = streams.find((s) => s.name.replace(/,/g, "").startsWith(wanted));
  if (!stream) throw new Error(`--order: '${wanted}' names no order; the orders: ${streams.map((s) => s.name.split(" (")[0]).join("; ")}`);
  const fraction = Number(arg("target", "0.7"));
  const inFlight = Number(arg("in-flight", "64"));
  const block = Number(arg("block", "500"));
  const everyMs = Number(arg("every-ms", "250"));
  const exitFlops = manifest.exits.map((e) => e.flops);
  const target = targetFlopsOf(fraction, exitFlops);
  const server = await startBenchServer(["--model-dir", modelDir, "--max-queue-wait-ms", "0", "--max-stream-inflight", String(inFlight)]);
  const admin = makeClients(server.address, {}, undefined, server.adminAddress);
  try {
    await unary(admin.budget, "SetBudget", { target_flops: Math.round(target) });
    await streamAll(server.address, streams[0]!.items, manifest.input.shape, inFlight); // warm-up: i.i.d.
    let streaming = true;
    const samples: string[] = [];
    const t0 = performance.now();
    const poll = (async () => {
      while (streaming) {
        const b = await unary(admin.budget, "GetBudget", {});
        const pending = b.knob - b.feed_forward_knob - b.integral_knob; // the commit-time term: what the knob has beyond the other two
        samples.push(
          `${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s  feed-forward ${b.feed_forward_knob.toFixed(2)}  integral ${b.integral_knob.toFixed(2)}  charges in flight ${pending.toFixed(2)}  knob ${b.knob.toFixed(2)}`,
        );
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    const run = await streamAll(server.address, stream.items, manifest.input.shape, inFlight);
    streaming = false;
    await poll;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const blocks: string[] = [];
    for (let i = 0; i < run.costs.length; i += block) blocks.push((mean(run.costs.slice(i, i + block)) / target).toFixed(2));
    console.log(`${stream.name} at ${fraction * 100}% of the last exit's FLOPs, ${inFlight} in flight: mean / target ${(mean(run.costs) / target).toFixed(3)}`);
    console.log(`blocks of ${block} requests, mean / target: ${blocks.join(" ")}`);
    console.log(`knob terms (logits):\n${samples.join("\n")}`);
  } finally {
    admin.close();
    await server.stop();
  }
});
