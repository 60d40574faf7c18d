/**
 * Budget evaluation over the real server: streams the Fashion-MNIST test set through
 * ClassifyStream in adversarial orders (bench/lib/budgetStreams.ts: i.i.d., sorted by difficulty
 * both ways, easy half then hard half, easy half then hardest first, blocks of corrupted
 * inputs), with `--in-flight` requests outstanding, at each target; SetBudget before each run
 * starts a fresh controller. Windows are 1,000 consecutive requests in the order they were sent
 * (windows ending within 500 requests after an abrupt shift are excused; none on gradual
 * orders). Also the offline curves of every exit scoring rule (thresholds from the validation
 * split, applied to the test set). Writes docs/results/budget-eval.md and three plots (SVG and PNG, Vega-Lite): accuracy against FLOPs,
 * the exit distribution per target, and the FLOPs of every window over a run.
 *
 * i.i.d. accuracy varies by about 0.1 point from one shuffle of the test set to another, so it is
 * also measured over `--iid-shuffles` seeded shuffles, and with `--baseline-dir` (an older
 * checkout) the same shuffles go through that code's server too, in the same run.
 *
 *   npm run eval:budget -- [--target 0.3,0.5,0.7] [--in-flight 64,1024] [--model-dir DIR] [--out-dir docs/results] [--limit N]
 *                          [--gain G] [--margin M]   (controller settings of the server under test; default: the server's)
 *                          [--iid-shuffles 10] [--baseline-dir DIR]
 *   (a target <= 1 is a fraction of the last exit's FLOPs, larger values are multiply-adds)
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { targetFlopsOf } from "../src/budget/budgetTarget.js";
import { accuracyAtFlops, evaluateThresholds, offlineTable, oracleAccuracy, scoresFromLogits } from "../src/budget/thresholdTable.js";
import { makeClients, unary } from "../src/cli/clients.js";
import { OrtEngine } from "../src/engine/OrtEngine.js";
import { loadCalibration } from "../src/format/calibration.js";
import { loadManifest } from "../src/format/manifest.js";
import { fitTemperatures, makeScorer, SCORE_RULES } from "../src/scoring/exitScorers.js";
import { softmaxRow } from "../src/scoring/softmax.js";
import { windowReport, withinBounds } from "../test/support/budgetSimulation.js";
import { exitLogits } from "../test/support/exitLogits.js";
import { imageOf, loadFashionMnist, normalise } from "../test/support/fashionMnist.js";
import { rng, shuffler } from "../test/support/rng.js";
import { startBenchServer } from "./lib/benchServer.js";
import { type BudgetStream, budgetStreams, type RunResult, streamAll } from "./lib/budgetStreams.js";
import { arg, runMain } from "./lib/cli.js";
import { renderVegaLite } from "./lib/vegaPlot.js";

const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
const outDir = arg("out-dir", "docs/results");
const WINDOW = 1000;

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const pct = (x: number, digits = 2) => `${(100 * x).toFixed(digits)}%`;

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const K = manifest.exits.length;
  const C = manifest.labels.length;
  const exitFlops = manifest.exits.map((e) => e.flops);
  const last = exitFlops[K - 1]!;
  const fractions = arg("target", "0.3,0.5,0.7").split(",").map(Number);
  const targets = fractions.map((t) => targetFlopsOf(t, exitFlops));
  const depths = arg("in-flight", "64,1024").split(",").map(Number);
  const full = loadFashionMnist("test");
  const set = { ...full, count: Math.min(Number(arg("limit", String(full.count))), full.count) };
  const log = (s: string) => process.stderr.write(`${s}\n`);

  log("offline curves and difficulty: chaining all stages over the test set ...");
  const engine = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 0, interOpThreads: 0, workers: 1 }, pino({ level: "warn" }));
  const testLogits = await exitLogits(engine, set);
  await engine.dispose();
  const firstExit = Float32Array.from({ length: set.count }, (_, i) => Math.max(...softmaxRow(testLogits, i * K, C)));
  const cal = await loadCalibration(manifest);
  const temps = await fitTemperatures(cal);
  const testCal = { count: set.count, exits: K, classes: C, logits: testLogits, labels: Int32Array.from(set.labels) };
  const rules = SCORE_RULES.map((rule) => {
    const scorer = makeScorer(rule, temps);
    const valTable = offlineTable(scoresFromLogits(cal, scorer), exitFlops);
    const testScores = scoresFromLogits(testCal, scorer);
    const testCurve = valTable.map((pt) => ({ ...evaluateThresholds(testScores, pt.thresholds, exitFlops), p: pt.p }));
    return { rule, valTable, testScores, testCurve };
  });
  const oracleFlops = Array.from({ length: 40 }, (_, i) => exitFlops[0]! + ((last - exitFlops[0]!) * i) / 39);
  const oracle = oracleAccuracy(rules[0]!.testScores, exitFlops, oracleFlops);
  const streams = budgetStreams(set, manifest.input, firstExit);

  const controllerFlags = [
    ...(arg("gain", "") ? ["--controller-gain", arg("gain", "")] : []),
    ...(arg("margin", "") ? ["--controller-margin", arg("margin", "")] : []),
  ];
  // admission by estimated wait off: with 1,024 in flight a refusal would leave a hole in the order
  // one stream per run, as deep as the run: the server receives the requests in the order sent
  const startServer = (from?: string) =>
    startBenchServer(
      [
        "--model-dir",
        path.resolve(modelDir),
        "--max-queue-wait-ms",
        "0",
        "--max-stream-inflight",
        String(Math.max(...depths)),
        ...(from ? [] : controllerFlags),
      ],
      from ? { cwd: from, adminFlag: true, httpFlag: false } : undefined,
    );
  const shuffles = Number(arg("iid-shuffles", "10"));
  const baselineDir = arg("baseline-dir", "");
  const baselineName = baselineDir;
  const clean = Array.from({ length: set.count }, (_, i) => {
    const x = normalise(imageOf(set, i), manifest.input);
    return { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), label: set.labels[i]! };
  });
  /** Accuracy of `shuffles` i.i.d. streams (seeds 1..shuffles) per target and depth, on a fresh server of this checkout or `from`. */
  const iidAccuracies = async (from?: string): Promise<Map<string, number[]>> => {
    const s = await startServer(from);
    const a = makeClients(s.address, {}, undefined, s.adminAddress);
    const out = new Map<string, number[]>();
    try {
      for (const target of targets) {
        for (const depth of depths) {
          const accs: number[] = [];
          for (let seed = 1; seed <= shuffles; seed++) {
            log(`${from ?? "this checkout"}: i.i.d. shuffle ${seed}/${shuffles}, target ${pct(target / last, 0)}, ${depth} in flight ...`);
            const items = shuffler(rng(seed))(clean.map((_, i) => i)).map((i) => clean[i]!);
            await unary(a.budget, "SetBudget", { target_flops: Math.round(target) });
            accs.push(mean((await streamAll(s.address, items, manifest.input.shape, depth)).correct));
          }
          out.set(`${target}/${depth}`, accs);
        }
      }
    } finally {
      a.close();
      await s.stop();
    }
    return out;
  };
  const server = await startServer();
  const admin = makeClients(server.address, {}, undefined, server.adminAddress);
  const rule = ((await unary(admin.budget, "GetBudget", {})) as { score_rule?: string }).score_rule ?? "auto";
  const results: { fraction: number; depth: number; stream: BudgetStream; run: RunResult }[] = [];
  try {
    for (const [ti, target] of targets.entries()) {
      for (const depth of depths) {
        for (const stream of streams) {
          log(`target ${pct(fractions[ti]! <= 1 ? fractions[ti]! : target / last, 0)}, ${depth} in flight: ${stream.name} ...`);
          await unary(admin.budget, "SetBudget", { target_flops: Math.round(target) });
          results.push({ fraction: target / last, depth, stream, run: await streamAll(server.address, stream.items, manifest.input.shape, depth) });
        }
      }
    }
  } finally {
    admin.close();
    await server.stop();
  }
  const iidHere = shuffles > 0 ? await iidAccuracies() : new Map<string, number[]>();
  const iidBase = shuffles > 0 && baselineDir ? await iidAccuracies(baselineDir) : undefined;
  const spread = (xs: readonly number[]) => `${pct(mean(xs))} ± ${(100 * sd(xs)).toFixed(2)} (${pct(Math.min(...xs))} to ${pct(Math.max(...xs))})`;
  const shuffleRows = [...iidHere.entries()].map(([key, accs]) => {
    const [target, depth] = key.split("/").map(Number) as [number, number];
    const base = iidBase?.get(key);
    return `| ${pct(target / last, 0)} | ${depth} | ${spread(accs)} |${base ? ` ${spread(base)} | ${(100 * (mean(accs) - mean(base))).toFixed(2)} |` : ""}`;
  });

  const lines: string[] = [];
  let breaking = 0;
  for (const r of results) {
    const target = r.fraction * last;
    const w = windowReport(r.run.costs, target, r.stream.shifts, WINDOW, 500);
    const ok = withinBounds(w);
    if (!ok) breaking++;
    lines.push(
      `| ${pct(r.fraction, 0)} | ${r.depth} | ${r.stream.name} | ${w.meanOverTarget.toFixed(3)} | ${pct(w.overShare, 1)} | ${w.worstWindowOverTarget.toFixed(3)} | ${pct(mean(r.run.correct))} | ${ok ? "yes" : "**no**"} |`,
    );
  }
  const iid = results.filter((r) => r.stream.name === "i.i.d.");
  const chosen = rules.find((r) => r.rule === rule) ?? rules[0]!;
  const ruleRows = rules.map((r) => ({
    rule: r.rule,
    val: targets.map((t) => accuracyAtFlops(r.valTable, t)),
    test: targets.map((t) => accuracyAtFlops(r.testCurve, t)),
  }));
  const command = `npm run eval:budget -- --target ${fractions.join(",")} --in-flight ${depths.join(",")}${controllerFlags.length ? ` ${controllerFlags.join(" ")}` : ""} --iid-shuffles ${shuffles}${baselineDir ? ` --baseline-dir ${baselineDir}` : ""}`;
  const text = [
    `# Budget control on ${manifest.name} v${manifest.version}: Fashion-MNIST test set over gRPC`,
    "",
    `\`${command}\`, ${new Date().toISOString().slice(0, 16)}Z, server at its default controller settings${controllerFlags.length ? " except the flags shown" : ""} (exit scoring rule: ${rule}).`,
    `Each run sends all ${set.count} test images over one ClassifyStream with the given number outstanding (server flags --max-stream-inflight ${Math.max(...depths)} --max-queue-wait-ms 0, so none is refused) after SetBudget (a fresh controller).`,
    `Windows are ${WINDOW} consecutive requests in the order sent; on orders with abrupt shifts, windows ending within 500 requests after a shift are excused.`,
    "Difficulty: the first exit's max softmax on the test image (high = easy). Corrupted blocks: i.i.d. images in 8 blocks, clean alternating with salt and pepper (20% of pixels), inverted, rotated 90 degrees, and a black square of half the side.",
    "",
    `Bounds: mean within [0.95, 1.00] x target and at most 1% of windows over 1.02 x target. ${results.length - breaking} of ${results.length} runs meet both.`,
    "",
    "| target | in flight | order | mean FLOPs / target | windows > 1.02 x target | worst window / target | accuracy | within bounds |",
    "|---:|---:|---|---:|---:|---:|---:|---|",
    ...lines,
    "",
    "## i.i.d. accuracy against the offline curves",
    "",
    "| target | in flight | accuracy | offline curve of the served rule at the same FLOPs | budgeted oracle at the same FLOPs |",
    "|---:|---:|---:|---:|---:|",
    ...iid.map((r) => {
      const spent = mean(r.run.costs);
      const oracleAt = accuracyAtFlops(
        oracleFlops.map((x, i) => ({ expectedFlops: x, accuracy: oracle[i]! })),
        spent,
      );
      return `| ${pct(r.fraction, 0)} | ${r.depth} | ${pct(mean(r.run.correct))} | ${pct(accuracyAtFlops(chosen.testCurve, spent))} | ${pct(oracleAt)} |`;
    }),
    "",
    ...(shuffleRows.length
      ? [
          `## i.i.d. accuracy over ${shuffles} shuffles of the test set`,
          "",
          `One run per shuffle (seeds 1 to ${shuffles}), a fresh controller each (SetBudget); mean ± standard deviation (lowest to highest)${iidBase ? `; the baseline is ${baselineName}, older code, measured the same way in the same run` : ""}.`,
          "",
          `| target | in flight | this server |${iidBase ? " baseline | difference (points) |" : ""}`,
          `|---:|---:|---:|${iidBase ? "---:|---:|" : ""}`,
          ...shuffleRows,
          "",
        ]
      : []),
    "## Exit scoring rules (offline curves, thresholds from the validation split)",
    "",
    `| rule | ${targets.map((t) => `val @${pct(t / last, 0)}`).join(" | ")} | ${targets.map((t) => `test @${pct(t / last, 0)}`).join(" | ")} |`,
    `|---|${targets.map(() => "---:").join("|")}|${targets.map(() => "---:").join("|")}|`,
    ...ruleRows.map(
      (r) => `| ${r.rule}${r.rule === rule ? " (served)" : ""} | ${r.val.map((x) => pct(x)).join(" | ")} | ${r.test.map((x) => pct(x)).join(" | ")} |`,
    ),
    "",
    `Per-exit temperatures fitted on the validation split: ${temps.map((t) => t.toFixed(3)).join(", ")}.`,
    "",
    "![accuracy against FLOPs: each exit, the budgeted curve, the oracle and the online controller](budget-accuracy.svg)",
    "",
    "![share of requests answered at each exit, per budget target](budget-exits.svg)",
    "",
    "![mean FLOPs of each window over the run](budget-windows.svg)",
    "",
  ].join("\n");
  writeFileSync(path.join(outDir, "budget-eval.md"), text);
  const mmacs = (f: number) => f / 1e6;
  const iidDeepest = iid.filter((r) => r.depth === Math.max(...depths));
  // each exit forced: exit k's own accuracy on the test set, under the served scoring rule
  const exitAccuracy = exitFlops.map((_, k) => {
    let right = 0;
    for (let i = 0; i < chosen.testScores.count; i++) right += chosen.testScores.correct[i * K + k]!;
    return right / chosen.testScores.count;
  });
  const accuracyRows = [
    ...chosen.testCurve.map((c) => ({ series: `budgeted batch, offline (${chosen.rule})`, mmacs: mmacs(c.expectedFlops), accuracy: 100 * c.accuracy })),
    ...oracleFlops.map((f, i) => ({ series: "budgeted oracle (upper bound)", mmacs: mmacs(f), accuracy: 100 * oracle[i]! })),
    ...iidDeepest.map((r) => ({
      series: "online controller, i.i.d. order",
      mmacs: mmacs(mean(r.run.costs)),
      accuracy: 100 * mean(r.run.correct),
      label: `${pct(r.fraction, 0)} target`,
    })),
    ...exitAccuracy.map((a, k) => ({ series: "each exit forced (anytime)", mmacs: mmacs(exitFlops[k]!), accuracy: 100 * a, label: `exit ${k + 1}` })),
  ];
  const x = { field: "mmacs", type: "quantitative", title: "mean MMACs per request (multiply-adds, millions)", scale: { zero: false, nice: true } } as const;
  const y = { field: "accuracy", type: "quantitative", title: "top-1 accuracy (%)", scale: { zero: false, nice: true }, axis: { format: ".1f" } } as const;
  const color = { field: "series", type: "nominal", title: null, legend: { orient: "bottom", columns: 2, labelLimit: 360 } } as const;
  const points = (series: string) => ({ filter: `datum.series === '${series}'` });
  await renderVegaLite(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: "Accuracy against mean FLOPs per request",
        subtitle: `Fashion-MNIST test set (${set.count} images), ${manifest.name} v${manifest.version}`,
      },
      width: 720,
      height: 420,
      data: { values: accuracyRows },
      layer: [
        {
          transform: [{ filter: "datum.series !== 'each exit forced (anytime)' && datum.series !== 'online controller, i.i.d. order'" }],
          mark: { type: "line" },
          encoding: { x, y, color, strokeDash: { field: "series", type: "nominal", legend: null } },
        },
        { transform: [points("online controller, i.i.d. order")], mark: { type: "point", filled: true, size: 70 }, encoding: { x, y, color } },
        { transform: [points("each exit forced (anytime)")], mark: { type: "point", shape: "diamond", filled: true, size: 70 }, encoding: { x, y, color } },
        {
          transform: [{ filter: "datum.label" }],
          mark: { type: "text", dy: -10, fontSize: 10 },
          encoding: { x, y, text: { field: "label" }, color },
        },
      ],
    },
    path.join(outDir, "budget-accuracy"),
  );
  const exitRows = iidDeepest.flatMap((r) =>
    exitFlops.map((f, k) => ({
      target: `${pct(r.fraction, 0)} target`,
      exit: `exit ${k + 1} (${(f / 1e6).toFixed(1)} MMACs)`,
      percent: (100 * r.run.costs.filter((c) => c === f).length) / r.run.costs.length,
    })),
  );
  await renderVegaLite(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: "Where requests exit, by budget target",
        subtitle: `i.i.d. order, the whole test set, ${Math.max(...depths)} in flight; each exit with its cumulative cost`,
      },
      width: 720,
      height: 320,
      data: { values: exitRows },
      mark: { type: "bar" },
      encoding: {
        x: { field: "exit", type: "ordinal", title: null, sort: null, axis: { labelAngle: 0 } },
        xOffset: { field: "target", type: "nominal", sort: null },
        y: { field: "percent", type: "quantitative", title: "requests answered (%)", scale: { nice: true } },
        color: { field: "target", type: "nominal", title: "budget target", sort: null, legend: { orient: "top" } },
      },
    },
    path.join(outDir, "budget-exits"),
  );
  const deepest = Math.max(...depths);
  const plotted = results.filter((r) => r.depth === deepest && (r.stream.name.startsWith("easy half, then hardest") || r.stream.name.startsWith("corrupted")));
  const windowRows = plotted.flatMap((r) => {
    const rows: { series: string; target: string; request: number; percent: number }[] = [];
    let sum = 0;
    r.run.costs.forEach((c, i) => {
      sum += c - (i >= WINDOW ? r.run.costs[i - WINDOW]! : 0);
      if (i >= WINDOW - 1 && i % 20 === 0)
        rows.push({ series: r.stream.name.split(" (")[0]!, target: `${pct(r.fraction, 0)} target`, request: i + 1, percent: (100 * sum) / WINDOW / last });
    });
    return rows;
  });
  const limits = fractions.map((f) => ({ target: `${pct(f, 0)} target`, percent: (102 * targetFlopsOf(f, exitFlops)) / last }));
  await renderVegaLite(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: `Mean FLOPs of each ${WINDOW}-request window, ${deepest} requests in flight`,
        subtitle: "as % of the last exit's FLOPs, by the window's last request (order sent); dotted: 1.02 x target",
      },
      width: 720,
      height: 380,
      layer: [
        {
          data: { values: windowRows },
          mark: { type: "line", strokeWidth: 1.5 },
          encoding: {
            x: { field: "request", type: "quantitative", title: "request (window end, order sent)", scale: { nice: true } },
            y: { field: "percent", type: "quantitative", title: "window mean FLOPs (% of last exit)", scale: { zero: false, nice: true } },
            color: { field: "target", type: "nominal", title: "budget target", legend: { orient: "bottom" } },
            strokeDash: { field: "series", type: "nominal", title: "order", legend: { orient: "bottom", labelLimit: 360 } },
          },
        },
        {
          data: { values: limits },
          mark: { type: "rule", strokeDash: [2, 3] },
          encoding: { y: { field: "percent", type: "quantitative" }, color: { field: "target", type: "nominal" } },
        },
      ],
    },
    path.join(outDir, "budget-windows"),
  );
  console.log(text);
}

runMain(main);
