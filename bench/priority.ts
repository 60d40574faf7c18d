/**
 * Priority levels under overload: the served model with `--priority-levels 2` (level 2 the
 * default). Capacity C: closed loop, unary Classify, 64 in flight. Then open loop for `seconds`,
 * each level from its own client process (a lean node:http2 client, one connection; the processes
 * load and connect first, and the clients of a run start sending together): level 1
 * alone at `share` x `factor` x C (its unloaded p99), then level 2 at (1 - share) x `factor` x C
 * together with level 1 at share x factor x C. Reports level 1's p99 against its unloaded p99
 * and the refusals of each level. Then the floor no policy inside the server can go under: the
 * same flood refused by the request's own validation (priority 3 of 2 levels: INVALID_ARGUMENT
 * before admission, queues or engine) beside the same level-1 traffic, and level 1's p99 under
 * the flood over that floor's. `--rounds` rounds, each running one server per combination of
 * `--yield-utilization` (priorityYieldUtilization), `--worker-slots` (engineWorkerSlots) and
 * `--priority-yield-batch-size` (priorityYieldBatchSize) values, interleaved.
 * Writes docs/results/priority.md.
 *
 *   npm run bench:priority -- [--seconds 6] [--factor 2] [--share 0.1] [--rounds 3] [--exit 0]
 *                             [--yield-utilization 0,0.6,0.8] [--worker-slots 2]
 *                             [--priority-yield-batch-size 4] [--model-dir DIR] [--out docs/results/priority.md]
 *
 * --exit: ClassifyOptions.exit of every request (1-based; 0 = adaptive at the default budget).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { loadManifest } from "../src/format/manifest.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { runLoad } from "../test/support/loadgen.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";
import { commonStart, type OpenLoopUnaryResult, p99WholeAndSecondHalf, runOpenLoopUnary } from "./lib/openLoopUnary.js";

const seconds = Number(arg("seconds", "6"));
const factor = Number(arg("factor", "2"));
const share = Number(arg("share", "0.1"));
const rounds = Number(arg("rounds", "3"));
const exit = Number(arg("exit", "0"));
const yields = arg("yield-utilization", "0,0.6,0.8").split(",").map(Number);
const slotsList = arg("worker-slots", "2").split(",").map(Number);
const yieldBatchSizes = arg("priority-yield-batch-size", "4").split(",").map(Number);
const modelDir = path.resolve(arg("model-dir", "models/repository/ranet-fmnist/1"));
const out = arg("out", "docs/results/priority.md");
const log = (s: string) => process.stderr.write(`${s}\n`);
const refused = (r: OpenLoopUnaryResult) =>
  `${(r.codes["8"] ?? 0).toLocaleString("en-US")} of ${r.sent.toLocaleString("en-US")} (${((100 * (r.codes["8"] ?? 0)) / Math.max(1, r.sent)).toFixed(1)}%)`;
/** p99 over the whole run / over its second half, ms. */
const p99s = (r: OpenLoopUnaryResult) => p99WholeAndSecondHalf(r, 1);
const other = (r: OpenLoopUnaryResult) => r.sent - (r.codes["0"] ?? 0) - (r.codes["8"] ?? 0);

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const bytes = tensorBytesOf(loadFashionMnist("test"), 2000, manifest.input);
  const request = (i: number) => ({ tensor: { shape: manifest.input.shape, data: bytes[i % bytes.length] }, options: { exit, priority: 2 } });
  const rows: string[] = [];
  for (let r = 1; r <= rounds; r++)
    for (const y of yields) for (const slots of slotsList) for (const yieldBatch of yieldBatchSizes) await round(r, y, slots, yieldBatch);

  async function round(r: number, y: number, slots: number, yieldBatch: number): Promise<void> {
    const server = await startBenchServer([
      "--model-dir",
      modelDir,
      "--priority-levels",
      "2",
      "--priority-yield-utilization",
      String(y),
      "--engine-worker-slots",
      String(slots),
      "--priority-yield-batch-size",
      String(yieldBatch),
    ]);
    try {
      const C = (await runLoad({ address: server.address, concurrency: 64, api: "unary", durationMs: seconds * 1000, warmupMs: 1000, request })).throughput;
      const port = Number(server.address.split(":").pop());
      const load = (priority: number, ratePerS: number, startAtMs: number) =>
        runOpenLoopUnary({ port, client: "node-http2", ratePerS, seconds, connections: 1, modelDir, exit, priority, startAtMs });
      const alone = await load(1, share * factor * C, commonStart());
      let at = commonStart();
      const [low, high] = await Promise.all([load(2, (1 - share) * factor * C, at), load(1, share * factor * C, at)]);
      at = commonStart();
      const [invalid, floor] = await Promise.all([load(3, (1 - share) * factor * C, at), load(1, share * factor * C, at)]);
      const late = Math.max(...[alone, low, high, invalid, floor].map((x) => x.startedLateMs));
      if (late > 0) log(`a client process was ready ${late} ms after the common start time (it started at once)`);
      const ratio = high.okMs.p99 / alone.okMs.p99;
      const invalidOnly = (invalid.codes["3"] ?? 0) === invalid.sent;
      rows.push(
        `| ${r} | ${y} | ${slots} | ${yieldBatch} | ${C.toFixed(0)} | ${p99s(alone)} | ${p99s(high)} | ${ratio.toFixed(2)} / ${(high.okSecondHalfP99Ms / alone.okSecondHalfP99Ms).toFixed(2)} | ${p99s(floor)}${invalidOnly ? "" : " (not all refused!)"} | ${(high.okMs.p99 / floor.okMs.p99).toFixed(2)} / ${(high.okSecondHalfP99Ms / floor.okSecondHalfP99Ms).toFixed(2)} | ${refused(high)} | ${refused(low)} | ${other(high) + other(low)} / ${high.unanswered + low.unanswered} | ${((low.codes["0"] ?? 0) / seconds).toFixed(0)} | ${low.okMs.p99.toFixed(0)} |`,
      );
      log(
        `round ${r}, priorityYieldUtilization ${y}, engineWorkerSlots ${slots}, priorityYieldBatchSize ${yieldBatch}: C ${C.toFixed(0)}, level 1 p99 alone ${alone.okMs.p99.toFixed(1)} with overload ${high.okMs.p99.toFixed(1)}; level 1 codes ${JSON.stringify(high.codes)}, level 2 codes ${JSON.stringify(low.codes)}; beside a flood refused at validation: level 1 p99 ${floor.okMs.p99.toFixed(1)}, flood codes ${JSON.stringify(invalid.codes)}; level 1 p99 by second under overload ${high.okP99BySecondMs.map((x) => x.toFixed(0)).join(" ")}, beside the refused flood ${floor.okP99BySecondMs.map((x) => x.toFixed(0)).join(" ")}`,
      );
    } finally {
      await server.stop();
    }
  }
  const text = [
    "# Priority levels under overload",
    "",
    `\`npm run bench:priority -- --seconds ${seconds} --factor ${factor} --share ${share} --rounds ${rounds} --exit ${exit} --yield-utilization ${yields.join(",")} --worker-slots ${slotsList.join(",")} --priority-yield-batch-size ${yieldBatchSizes.join(",")}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}, ${exit > 0 ? `every request forced to exit ${exit}` : "adaptive at the default budget target"}.`,
    `Machine: ${machine()}; the server (\`--priority-levels 2\`, \`--priority-yield-utilization\`, \`--engine-worker-slots\` and \`--priority-yield-batch-size\` as in each row, default settings otherwise; one server per row, the settings interleaved within each round) and two client processes share the machine.`,
    `Capacity C: closed loop, unary Classify, 64 calls in flight, level 2. Then open loop for ${seconds} s, each level from its own lean node:http2 client (one connection), the client processes loaded and connected before a common start time: level 1 alone at ${share * factor} x C (its unloaded p99), then level 2 at ${((1 - share) * factor).toFixed(2)} x C with level 1 at ${share * factor} x C: ${factor} x C in all, ${share * 100}% of it at level 1.`,
    "",
    `The floor: level 1 at ${share * factor} x C beside the same ${((1 - share) * factor).toFixed(2)} x C flood sent with priority 3, which the server refuses with INVALID_ARGUMENT when it validates the request, before admission, queues or engine: what level 1 sees when the flood costs only the gRPC layer's work.`,
    "",
    `Each p99 is given over the whole ${seconds} s and over its second half (requests sent after the first ${Math.floor(seconds / 2)} s: past the start-up of the flood).`,
    "",
    "| round | priorityYieldUtilization | engineWorkerSlots | priorityYieldBatchSize | C (img/s) | level 1 p99 alone (ms) | level 1 p99 under overload (ms) | ratio | floor: level 1 p99 beside a flood refused at validation (ms) | under overload / floor | level 1 refused | level 2 refused | other codes / unanswered | level 2 answered OK (/s) | level 2 OK p99 (ms) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
