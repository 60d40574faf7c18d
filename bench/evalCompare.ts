/**
 * The paper's comparison through the server: every served model of a repository (RANet and
 * MSDNet by default) answers the whole Fashion-MNIST test set over gRPC (ClassifyStream, the test
 * set in file order) at `--targets` budget targets spread evenly from its first exit's FLOPs to
 * its last exit's, and forced to each exit. Two settings, each a fresh server process:
 *
 * - paper: the budgeted-batch setting as the paper runs it: fixed thresholds from each model's
 *   validation split (offline table, the controller off) under max-softmax scoring; forced exits
 *   give the anytime curve (each exit's own accuracy against its FLOPs).
 * - served: the server's defaults (the online controller, each model's own exit scoring rule).
 *
 * The x-axis is the mean FLOPs the answers actually spent, not the target. Nothing is chosen on
 * the test set. Writes the tables (OUT.md) and the plot (OUT.png, accuracy against MMACs).
 *
 *   npm run eval:compare -- [--repository models/repository] [--models ranet-fmnist,msdnet-fmnist]
 *                           [--targets 9] [--in-flight 128] [--limit N] [--out docs/results/compare]
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { makeClients, unary } from "../src/cli/clients.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { streamInOrder } from "../test/support/orderedStream.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, runMain } from "./lib/cli.js";
import { renderVegaLite } from "./lib/vegaPlot.js";

const repository = arg("repository", "models/repository");
const out = arg("out", "docs/results/compare");
const targetsCount = Number(arg("targets", "9"));
const inFlight = Number(arg("in-flight", "128"));
const SETTINGS = {
  paper: ["--controller", "false", "--exit-score", "max-softmax"],
  served: [] as string[],
} as const;

interface Point {
  target: number;
  flops: number;
  accuracy: number;
}
interface ModelResult {
  name: string;
  exitFlops: number[];
  budgeted: Record<keyof typeof SETTINGS, Point[]>;
  /** Forced to each exit under max-softmax: the anytime curve. */
  anytime: Point[];
  scoreRule: string;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const mm = (f: number) => (f / 1e6).toFixed(2);
const pct = (a: number) => (100 * a).toFixed(2);

async function main(): Promise<void> {
  const full = loadFashionMnist("test");
  const count = Math.min(Number(arg("limit", String(full.count))), full.count);
  const results = new Map<string, ModelResult>();
  for (const [setting, flags] of Object.entries(SETTINGS) as [keyof typeof SETTINGS, readonly string[]][]) {
    const server = await startBenchServer(["--model-repository", repository, "--max-stream-inflight", String(inFlight), ...flags]);
    const c = makeClients(server.address, {}, undefined, server.adminAddress);
    try {
      const index = await unary(c.inference, "RepositoryIndex", { ready: true });
      const names = arg("models", index.models.map((m) => m.name).join(",")).split(",");
      for (const name of names) {
        const meta = await unary(c.classifier, "GetModelMetadata", { model: name });
        const exitFlops = meta.exits.map((e) => Number(e.flops));
        const inputs = tensorBytesOf({ ...full, count }, count, {
          pixelScale: meta.input!.pixel_scale,
          mean: meta.input!.mean,
          std: meta.input!.std,
        });
        const run = async (options: object): Promise<{ flops: number; accuracy: number }> => {
          const answers = await streamInOrder(
            c.classifier,
            inputs.map((data) => ({ model: name, tensor: { shape: meta.input!.shape.map(Number), data }, options })),
            inFlight,
          );
          const correct = answers.filter((a, i) => a.class_index === full.labels[i]).length;
          return { flops: answers.reduce((s, a) => s + Number(a.flops), 0) / count, accuracy: correct / count };
        };
        const r = results.get(name) ?? {
          name,
          exitFlops,
          budgeted: { paper: [], served: [] },
          anytime: [],
          scoreRule: "",
        };
        if (setting === "served") r.scoreRule = meta.score_rule;
        const first = exitFlops[0]!;
        const last = exitFlops.at(-1)!;
        for (let i = 0; i < targetsCount; i++) {
          const target = Math.round(first + ((last - first) * i) / (targetsCount - 1));
          await unary(c.budget, "SetBudget", { model: name, target_flops: target });
          const p = await run({});
          r.budgeted[setting].push({ target, ...p });
          log(`${setting} ${name} target ${mm(target)} MMACs: mean ${mm(p.flops)} MMACs, accuracy ${pct(p.accuracy)}%`);
        }
        if (setting === "paper") {
          for (let k = 1; k <= exitFlops.length; k++) {
            const p = await run({ exit: k });
            r.anytime.push({ target: exitFlops[k - 1]!, ...p });
            log(`anytime ${name} exit ${k}: ${mm(p.flops)} MMACs, accuracy ${pct(p.accuracy)}%`);
          }
        }
        results.set(name, r);
      }
    } finally {
      c.close();
      await server.stop();
    }
  }
  await report([...results.values()], count);
}

async function report(models: ModelResult[], count: number): Promise<void> {
  const command = `npm run eval:compare -- --repository ${repository} --targets ${targetsCount} --in-flight ${inFlight}${count < 10_000 ? ` --limit ${count}` : ""} --out ${out}`;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "# Budgeted batch and anytime accuracy through the server",
    "",
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} x ${cpu}, Node ${process.version}:`,
    `the Fashion-MNIST test set (${count} images, file order) over gRPC ClassifyStream, ${inFlight} in flight, at each`,
    `of ${targetsCount} targets from each model's first exit's FLOPs to its last's. FLOPs are the mean multiply-adds the`,
    "answers actually spent (the x-axis), accuracy is top-1 of the answers. Thresholds come from each model's",
    "validation split; the test set chooses nothing.",
    "",
    "![accuracy against FLOPs](compare.png)",
    "",
    "## Budgeted batch, the paper's setting (offline thresholds, controller off, max-softmax)",
    "",
    table(models, "paper"),
    "",
    "## Anytime: each exit forced (max-softmax: the exit's own prediction)",
    "",
    "| model | exit | MMACs | accuracy |",
    "|---|---:|---:|---:|",
    ...models.flatMap((m) => m.anytime.map((p, k) => `| ${m.name} | ${k + 1} | ${mm(p.flops)} | ${pct(p.accuracy)}% |`)),
    "",
    "## Budgeted batch, the served default (online controller, each model's own exit scoring rule)",
    "",
    `Scoring rules: ${models.map((m) => `${m.name} ${m.scoreRule}`).join(", ")}.`,
    "",
    table(models, "served"),
    "",
  ];
  writeFileSync(`${out}.md`, lines.join("\n"));
  const rows = models.flatMap((m) => {
    const last = m.exitFlops.at(-1)!;
    const row = (series: string, p: Point, label = "") => ({
      model: m.name,
      series,
      mmacs: p.flops / 1e6,
      pctOfLast: (100 * p.flops) / last,
      accuracy: 100 * p.accuracy,
      label,
    });
    return [
      ...m.budgeted.paper.map((p) => row("paper setting (offline thresholds, max-softmax)", p)),
      ...m.budgeted.served.map((p) => row("served default (controller, own scoring rule)", p)),
      ...m.anytime.map((p, k) => row("anytime (each exit forced)", p, `exit ${k + 1}`)),
    ];
  });
  const enc = {
    x: { field: "mmacs", type: "quantitative", title: "mean MMACs per image (multiply-adds, millions)", scale: { zero: false, nice: true } },
    y: { field: "accuracy", type: "quantitative", title: "top-1 accuracy (%)", scale: { zero: false, nice: true }, axis: { format: ".1f" } },
    color: { field: "model", type: "nominal", title: "model" },
  } as const;
  await renderVegaLite(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: "Fashion-MNIST test accuracy against FLOPs, through the server",
        subtitle: `${count} test images; lines: budgeted batch (thresholds from the validation split); labelled diamonds: each exit forced (anytime)`,
      },
      width: 720,
      height: 420,
      data: { values: rows },
      layer: [
        {
          transform: [{ filter: "datum.series !== 'anytime (each exit forced)'" }],
          mark: { type: "line", point: true },
          encoding: {
            ...enc,
            strokeDash: { field: "series", type: "nominal", title: "budgeted batch", legend: { labelLimit: 320 } },
            detail: { field: "series" },
          },
        },
        {
          transform: [{ filter: "datum.series === 'anytime (each exit forced)'" }],
          mark: { type: "point", shape: "diamond", size: 80, filled: true },
          encoding: enc,
        },
        {
          transform: [{ filter: "datum.series === 'anytime (each exit forced)'" }],
          mark: { type: "text", dy: -9, fontSize: 10 },
          encoding: { x: enc.x, y: enc.y, color: enc.color, text: { field: "label" } },
        },
      ],
    },
    out,
  );
  log(`wrote ${out}.md and ${out}.png`);
}

function table(models: ModelResult[], setting: keyof typeof SETTINGS): string {
  const rows = ["| model | target MMACs | mean MMACs spent | accuracy |", "|---|---:|---:|---:|"];
  for (const m of models) for (const p of m.budgeted[setting]) rows.push(`| ${m.name} | ${mm(p.target)} | ${mm(p.flops)} | ${pct(p.accuracy)}% |`);
  return rows.join("\n");
}

runMain(main);
