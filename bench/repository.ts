/**
 * Several models in one server, measured from outside (a repository of two copies of a model,
 * "a" and "b", so that their capacities are equal):
 *
 * 1. Budgets per model: "a" at target 30% and "b" at 70% of their last exit's FLOPs, the whole
 *    Fashion-MNIST test set streamed to both AT ONCE, each in its own adversarial order (i.i.d.,
 *    sorted by difficulty both ways, easy half then hard half, easy/hard blocks; "b" runs the next
 *    order in the list), `--in-flight` requests outstanding per model. Each model's mean FLOPs
 *    against its own target, and the share of 1,000-request windows (in the order sent) above
 *    1.02 x target (windows ending within 500 requests after an abrupt shift excused).
 * 2. Fairness: the capacity C of "a" alone (closed loop); then "b" alone open-loop at 10% of C
 *    (its p99, unary from its own client process); then "a" open-loop at 2 x C (unary from its
 *    own client process, or over ClassifyStream: --flood) together with "b" at 10% of C: "b"'s
 *    refusals and p99 against its p99 alone plus two of "a"'s batch times (the engine workers'
 *    time per batch during the flood), and the share of "a" refused. For a unary flood, also the
 *    floor: "b"'s p99 beside the same flood sent to a model the server does not have (NOT_FOUND
 *    at routing, before admission or engine). Beside each load, how late the server's main thread
 *    and a light thread of another process run their timers (the wait of a stage hop handed on by
 *    the main thread or by a thread of its own). `--rounds` rounds.
 *
 *   npm run bench:repository -- [--model-dir DIR] [--seconds 6] [--rounds 3] [--in-flight 64] [--engine-workers 2]
 *                               [--parts budgets,fairness] [--flood unary,stream]
 *                               [--out docs/results/repository]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeClients, unary } from "../src/cli/clients.js";
import { loadManifest } from "../src/format/manifest.js";
import { difficultyOrders, difficultySplit, type OrderSpec, windowReport } from "../test/support/budgetSimulation.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { repositoryOf } from "../test/support/fixtures.js";
import { runLoad, runOpenLoop } from "../test/support/loadgen.js";
import { streamInOrder } from "../test/support/orderedStream.js";
import { rng, shuffler } from "../test/support/rng.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";
import { firstExitConfidence } from "./lib/firstExitConfidence.js";
import { commonStart, type OpenLoopUnaryResult, p99WholeAndSecondHalf, runOpenLoopUnary } from "./lib/openLoopUnary.js";
import { threadSchedule } from "./lib/threadCpu.js";
import { runWakeProbe, serverWakeDelay, WAKE_RESOLUTION_MS, type WakeDelay } from "./lib/wakeDelay.js";

const modelDir = path.resolve(arg("model-dir", "models/repository/ranet-fmnist/1"));
const seconds = Number(arg("seconds", "6"));
const rounds = Number(arg("rounds", "3"));
const inFlight = Number(arg("in-flight", "64"));
const engineWorkers = Number(arg("engine-workers", "2"));
const parts = arg("parts", "budgets,fairness").split(",");
const floods = arg("flood", "unary,stream").split(",") as ("unary" | "stream")[];
const out = arg("out", "docs/results/repository");
const TARGETS = { a: 0.3, b: 0.7 } as const;
const log = (s: string) => process.stderr.write(`${s}\n`);
const f2 = (x: number) => x.toFixed(2);
/** p99 over the whole run / over its second half (past the flood's start-up), ms. */
const p99s = (r: OpenLoopUnaryResult) => p99WholeAndSecondHalf(r, 2);

/** A repository of copies of the model ("a", "b", ...), each with its config.yaml. */
function repository(names: readonly string[], config: (name: string) => string): string {
  const root = repositoryOf(names, modelDir);
  for (const name of names) writeFileSync(path.join(root, name, "config.yaml"), config(name));
  return root;
}

async function budgets(lines: string[]): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const set = loadFashionMnist("test");
  const bytes = tensorBytesOf(set, set.count, manifest.input);
  const d = difficultySplit(firstExitConfidence(modelDir), set.count);
  const orders: OrderSpec[] = difficultyOrders(d, shuffler(rng(7)));
  const last = manifest.exits.at(-1)!.flops;
  const root = repository(["a", "b"], (n) => `budgetTarget: ${TARGETS[n as "a" | "b"]}\n`);
  const server = await startBenchServer(["--model-repository", root, "--max-stream-inflight", String(inFlight)]);
  const c = makeClients(server.address, {}, undefined, server.adminAddress);
  lines.push(
    "## Budgets per model under simultaneous traffic",
    "",
    `"a" at ${TARGETS.a * 100}% and "b" at ${TARGETS.b * 100}% of the last exit's FLOPs (${(last / 1e6).toFixed(2)} MMACs); each row is one run, both models streamed the whole test set at once, ${inFlight} in flight each.`,
    "",
    "| run | model | order | mean / target | windows over 1.02 x | worst window / target |",
    "|---:|---|---|---:|---:|---:|",
  );
  try {
    for (let k = 0; k < orders.length; k++) {
      const plan = { a: orders[k]!, b: orders[(k + 1) % orders.length]! };
      for (const m of ["a", "b"] as const) await unary(c.budget, "SetBudget", { model: m, target_fraction: TARGETS[m] }); // a fresh controller
      const [ra, rb] = await Promise.all(
        (["a", "b"] as const).map((m) =>
          streamInOrder(
            c.classifier,
            plan[m].order.map((i) => ({ model: m, tensor: { shape: manifest.input.shape, data: bytes[i] } })),
            inFlight,
          ),
        ),
      );
      for (const [m, answers] of [
        ["a", ra!],
        ["b", rb!],
      ] as const) {
        const w = windowReport(
          answers.map((r) => Number(r.flops)),
          TARGETS[m] * last,
          plan[m].shifts,
        );
        lines.push(
          `| ${k + 1} | ${m} | ${plan[m].name} | ${w.meanOverTarget.toFixed(3)} | ${(100 * w.overShare).toFixed(2)}% of ${w.windows} | ${w.worstWindowOverTarget.toFixed(3)} |`,
        );
        log(`budgets run ${k + 1} ${m} ${plan[m].name}: mean/target ${w.meanOverTarget.toFixed(3)}, over ${(100 * w.overShare).toFixed(2)}%`);
      }
    }
  } finally {
    c.close();
    await server.stop();
  }
  lines.push("");
}

/** Stage batches run so far (every model's), from the metrics text. */
function batchesRun(text: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith("ranet_stage_duration_seconds_count"))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

async function fairness(lines: string[]): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const bytes = tensorBytesOf(loadFashionMnist("test"), 2000, manifest.input);
  const root = repository(["a", "b"], () => "budgetTarget: 0.5\n");
  lines.push(
    "## Fairness: one model flooded, another quiet",
    "",
    `Both models at budget target 0.5, ${engineWorkers} engine workers. Capacity C of "a" alone: closed loop, 64 requests in flight over the flood's API. Then open loop for ${seconds} s: "b" alone at 10% of C, then "a" at 2 x C together with "b" at 10% of C. "b" always sends unary Classify from its own client process (a lean node:http2 client, one connection); the loads of a run start together, client processes loaded and connected first; "a" floods either with unary Classify from its own client process (so admission refuses its excess) or over 4 ClassifyStream streams from the benchmark's process (flow control holds its excess in the client: nothing to refuse). "a"'s batch time: the workers' time per stage batch during the flood if both workers were busy throughout (a lower bound when the main thread, not the engine, limits the flood).`,
    "",
    `The floor column (unary floods): "b" at 10% of C beside the same flood sent to a model the server does not have, which it refuses with NOT_FOUND when it routes the request, before admission, queues or engine: what "b" sees when the flood costs only the gRPC layer's work, which no scheduling or admission rule can go under. A stream flood has none: refused at once, nothing would hold it back, and the server would read it at the full offered rate instead of the rate it serves. Each p99 of "b" beside a flood is given over the whole ${seconds} s and over its second half (requests sent after the first ${Math.floor(seconds / 2)} s: past the flood's start-up, when "a"'s queue fills), and so is its ratio to the floor. The main thread's columns: from the clients' common start to the end of both loads, the seconds per second the server's main thread ran and was runnable but waiting for one of the cores it shares with the engine workers and the clients (Linux schedstat). The last column: how late the server's main thread ran a ${WAKE_RESOLUTION_MS} ms timer (prom-client's event-loop delay), and a light thread, a process of its own that only wakes on the same timer, over the same load: what each stage hop of a request waits for when the main thread hands it on, and what it would wait for on a thread that does nothing else (an engine-core thread).`,
    "",
    '| round | "a" floods over | C (img/s) | "b" alone p99 (ms) | "b" with "a" flooded p99 (ms) | bound: alone + 2 x "a" batch (ms) | floor: "b" p99 beside a flood refused at routing (ms) | "b" with the flood / floor | "b" refused | "a" refused | main thread with the flood: busy / waiting for a core (s per s) | the same beside the floor\'s flood | timers late, p99 (max) ms, the main thread / a light thread: with the flood; beside the floor\'s flood |',
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (let r = 1; r <= rounds; r++) {
    for (const flood of floods) {
      const server = await startBenchServer(["--model-repository", root, "--engine-workers", String(engineWorkers)]);
      try {
        const request = (i: number) => ({ model: "a", tensor: { shape: manifest.input.shape, data: bytes[i % bytes.length] } });
        const capacity = await runLoad({ address: server.address, concurrency: 64, api: flood, durationMs: seconds * 1000, warmupMs: 1000, request });
        const C = capacity.throughput;
        const port = Number(server.address.split(":").pop());
        const unaryLoad = (model: string, ratePerS: number, startAtMs: number) =>
          runOpenLoopUnary({ port, client: "node-http2", ratePerS, seconds, connections: 1, modelDir, exit: 0, model, startAtMs });
        const alone = await unaryLoad("b", 0.1 * C, commonStart());
        // a scrape also restarts the server's event-loop delay histogram: each load's figures are its own
        const scrape = async () => (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
        const before = batchesRun(await scrape());
        let at = commonStart();
        const pid = server.proc.pid!;
        const [[a, quiet, floodProbe], floodMain] = await mainThreadFrom(pid, at, [
          flood === "unary"
            ? unaryLoad("a", 2 * C, at).then((x) => ({ sent: x.sent, refused: x.codes["8"] ?? 0 }))
            : new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())))
                .then(() => runOpenLoop({ address: server.address, rate: 2 * C, durationMs: seconds * 1000, request }))
                .then((x) => ({
                  sent: x.sent,
                  refused: x.codes.RESOURCE_EXHAUSTED ?? 0,
                })),
          unaryLoad("b", 0.1 * C, at),
          runWakeProbe(at, seconds),
        ] as const);
        const afterFlood = await scrape();
        const floodWake = wakeDelays(serverWakeDelay(afterFlood), floodProbe);
        const batchMs = (engineWorkers * seconds * 1000) / Math.max(1, batchesRun(afterFlood) - before);
        // the floor (unary floods): the same flood for a model the server does not have, refused with NOT_FOUND when it
        // routes, before admission or engine. A refused stream flood is no floor for a served one: nothing would hold it
        // back, so the server would read it at the full offered rate instead of what it serves.
        at = commonStart();
        if (flood === "unary") await scrape();
        const [lost, floorMain] =
          flood === "unary"
            ? await mainThreadFrom(pid, at, [unaryLoad("no-such-model", 2 * C, at), unaryLoad("b", 0.1 * C, at), runWakeProbe(at, seconds)] as const)
            : [];
        const floorWake = lost ? wakeDelays(serverWakeDelay(await scrape()), lost[2]) : "n/a";
        const floor = lost
          ? `${p99s(lost[1])}${(lost[0].codes["5"] ?? 0) === lost[0].sent ? "" : ` (${lost[0].sent - (lost[0].codes["5"] ?? 0)} not NOT_FOUND!)`}`
          : "n/a";
        const overFloor = lost ? `${f2(quiet.okMs.p99 / lost[1].okMs.p99)} / ${f2(quiet.okSecondHalfP99Ms / lost[1].okSecondHalfP99Ms)}` : "n/a";
        const bound = alone.okMs.p99 + 2 * batchMs;
        const quietRefused = (quiet.codes["8"] ?? 0) / Math.max(1, quiet.sent);
        lines.push(
          `| ${r} | ${flood} | ${C.toFixed(0)} | ${f2(alone.okMs.p99)} | ${p99s(quiet)} | ${f2(bound)} | ${floor} | ${overFloor} | ${(100 * quietRefused).toFixed(2)}% | ${((100 * a.refused) / Math.max(1, a.sent)).toFixed(1)}% | ${floodMain} | ${floorMain ?? "n/a"} | ${floodWake}; ${floorWake} |`,
        );
        log(
          `fairness round ${r}, ${flood} flood: C ${C.toFixed(0)}, b p99 alone ${f2(alone.okMs.p99)} with flood ${p99s(quiet)} (by second ${quiet.okP99BySecondMs.map(f2).join(" ")}; bound ${f2(bound)}, a batch ${f2(batchMs)} ms; beside a flood refused at routing ${floor}), b codes ${JSON.stringify(quiet.codes)}, a sent ${a.sent} refused ${a.refused}; main thread busy / waiting for a core ${floodMain} s per s (beside the floor's flood ${floorMain ?? "n/a"}); timers late p99 (max), main thread / a light thread: ${floodWake} ms (beside the floor's flood ${floorWake})`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  lines.push("");
}

/** "main thread p99 (max) / light thread p99 (max)", ms. */
function wakeDelays(main: WakeDelay, light: WakeDelay): string {
  const one = (w: WakeDelay) => `${w.p99Ms.toFixed(1)} (${w.maxMs.toFixed(0)})`;
  return `${one(main)} / ${one(light)}`;
}

/** What Promise.all gives for a tuple of promises. */
type Settled<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

/**
 * Awaits `work` (loads that start sending at `atMs`) and what the server's main thread did from
 * then until the last of them ended: seconds it ran and seconds it was runnable but waiting for a
 * core, per second (Linux schedstat), as "busy / waiting".
 */
async function mainThreadFrom<T extends readonly unknown[]>(pid: number, atMs: number, work: T): Promise<[Settled<T>, string]> {
  let start: { runS: number; waitS: number; t: number } | undefined;
  const timer = setTimeout(() => (start = { ...threadSchedule(pid), t: performance.now() }), Math.max(0, atMs - Date.now()));
  const results = await Promise.all(work);
  clearTimeout(timer);
  if (!start) return [results as Settled<T>, "n/a"];
  const end = threadSchedule(pid);
  const s = (performance.now() - start.t) / 1000;
  return [results as Settled<T>, `${f2((end.runS - start.runS) / s)} / ${f2((end.waitS - start.waitS) / s)}`];
}

async function main(): Promise<void> {
  const lines = [
    "# Several models in one server",
    "",
    `Made by \`npm run bench:repository -- --seconds ${seconds} --rounds ${rounds} --in-flight ${inFlight} --engine-workers ${engineWorkers} --parts ${parts.join(",")} --flood ${floods.join(",")}\` on ${new Date().toISOString().slice(0, 16)}Z, ${machine()}; server and load generator share the machine. Model: ${path.relative(process.cwd(), modelDir)}.`,
    "",
  ];
  if (parts.includes("budgets")) await budgets(lines);
  if (parts.includes("fairness")) await fairness(lines);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(`${out}.md`, lines.join("\n"));
  log(`wrote ${out}.md`);
}

runMain(main);
