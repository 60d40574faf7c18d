/**
 * Per-tenant budgets on one model, measured from outside: tenants "gold" at `--targets`' first
 * target and "silver" at its second (fractions of the last exit's FLOPs, config `tenants`), and
 * requests of an unconfigured tenant held to the model's own target (`--model-target`). Each run
 * streams the whole Fashion-MNIST test set for all three AT ONCE over ClassifyStream (the tenant
 * in the x-tenant header), each in its own adversarial order (i.i.d., sorted by difficulty both
 * ways, easy half then hard half, easy half then hardest first; the next tenant takes the next
 * order), `--in-flight` requests outstanding per tenant. Reports each tenant's mean FLOPs against
 * its target and the share of 1,000-request windows (in the order it sent) above 1.02 x target
 * (windows ending within 500 requests after an abrupt shift excused). Writes docs/results/tenants.md.
 *
 *   npm run bench:tenants -- [--targets 0.3,0.7] [--model-target 0.5] [--in-flight 64] [--model-dir DIR] [--out docs/results/tenants.md]
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeClients, unary } from "../src/cli/clients.js";
import { loadManifest } from "../src/format/manifest.js";
import { difficultyOrders, difficultySplit, type OrderSpec, windowReport } from "../test/support/budgetSimulation.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { streamInOrder } from "../test/support/orderedStream.js";
import { rng, shuffler } from "../test/support/rng.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";
import { firstExitConfidence } from "./lib/firstExitConfidence.js";

const modelDir = path.resolve(arg("model-dir", "models/repository/ranet-fmnist/1"));
const [goldTarget, silverTarget] = arg("targets", "0.3,0.7").split(",").map(Number) as [number, number];
const modelTarget = Number(arg("model-target", "0.5"));
const inFlight = Number(arg("in-flight", "64"));
const out = arg("out", "docs/results/tenants.md");
const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const set = loadFashionMnist("test");
  const bytes = tensorBytesOf(set, set.count, manifest.input);
  const orders: OrderSpec[] = difficultyOrders(difficultySplit(firstExitConfidence(modelDir), set.count), shuffler(rng(11)));
  const last = manifest.exits.at(-1)!.flops;
  const tenants = [
    { header: "gold", target: goldTarget },
    { header: "silver", target: silverTarget },
    { header: "anyone-else", target: modelTarget },
  ];
  const config = JSON.stringify([
    { name: "gold", budgetTarget: goldTarget },
    { name: "silver", budgetTarget: silverTarget },
  ]);
  const server = await startBenchServer([
    "--model-dir",
    modelDir,
    "--budget-target",
    String(modelTarget),
    "--tenants",
    config,
    "--max-stream-inflight",
    String(inFlight),
    "--max-queue-wait-ms",
    "0",
  ]);
  const c = makeClients(server.address, {}, undefined, server.adminAddress);
  const rows: string[] = [];
  try {
    for (let k = 0; k < orders.length; k++) {
      // a fresh controller for every budget
      await unary(c.budget, "SetBudget", { target_fraction: modelTarget });
      for (const t of tenants.slice(0, 2)) await unary(c.budget, "SetBudget", { tenant: t.header, target_fraction: t.target });
      const plan = tenants.map((t, j) => ({ ...t, order: orders[(k + j) % orders.length]! }));
      const answers = await Promise.all(
        plan.map((p) =>
          streamInOrder(
            c.classifier,
            p.order.order.map((i) => ({ tensor: { shape: manifest.input.shape, data: bytes[i] } })),
            inFlight,
            { "x-tenant": p.header },
          ),
        ),
      );
      plan.forEach((p, j) => {
        const w = windowReport(
          answers[j]!.map((r) => Number(r.flops)),
          p.target * last,
          p.order.shifts,
        );
        const who = p.header === "anyone-else" ? "an unconfigured tenant (the model's target)" : p.header;
        rows.push(
          `| ${k + 1} | ${who} | ${(100 * p.target).toFixed(0)}% | ${p.order.name} | ${w.meanOverTarget.toFixed(3)} | ${(100 * w.overShare).toFixed(2)}% of ${w.windows} | ${w.worstWindowOverTarget.toFixed(3)} |`,
        );
        log(`run ${k + 1} ${who} ${p.order.name}: mean/target ${w.meanOverTarget.toFixed(3)}, over ${(100 * w.overShare).toFixed(2)}%`);
      });
    }
  } finally {
    c.close();
    await server.stop();
  }
  const text = [
    "# Budgets per tenant",
    "",
    `\`npm run bench:tenants -- --targets ${goldTarget},${silverTarget} --model-target ${modelTarget} --in-flight ${inFlight}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}; ${machine()}; server and load generator share the machine.`,
    `Tenants "gold" (${goldTarget}) and "silver" (${silverTarget}) configured with targets of their own, and an unconfigured tenant held to the model's ${modelTarget}; each run streams the whole test set (${set.count} images) for all three at once, ${inFlight} in flight each, each in its own order; SetBudget before each run starts fresh controllers. Windows: 1,000 consecutive requests of one tenant in the order it sent them; after an abrupt shift in difficulty, windows ending within 500 requests are excused.`,
    "",
    "| run | tenant | target | order | mean / target | windows over 1.02 x | worst window / target |",
    "|---:|---|---:|---|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
