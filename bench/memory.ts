/**
 * Resident memory of the server by engine worker count, and by the number of models served from
 * one repository (copies of the model, 2 engine workers shared by all): each configuration in
 * its own process, warmed up, 200 requests per model (half forced to the last exit), then VmRSS
 * from /proc.
 *
 *   npm run bench:memory -- [--workers 1,2,4] [--models 1,2,3] [--model-dir DIR]
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { makeClients, unary } from "../src/cli/clients.js";
import { parityFixtures, repositoryOf, tensorBytes } from "../test/support/fixtures.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, runMain } from "./lib/cli.js";

async function main(): Promise<void> {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const t = { shape: [1, 28, 28], data: tensorBytes(parityFixtures()[0]!.input) };
  const configs: { flags: string[]; models: string[] }[] = [
    { flags: ["--model-dir", modelDir, "--engine-workers", "1", "--fused-path", "false"], models: [""] },
    ...arg("workers", "1,2,4")
      .split(",")
      .map((w) => ({ flags: ["--model-dir", modelDir, "--engine-workers", w], models: [""] })),
    ...arg("models", "1,2,3")
      .split(",")
      .map((n) => {
        const models = Array.from({ length: Number(n) }, (_, i) => `m${i + 1}`);
        return { flags: ["--model-repository", repositoryOf(models, path.resolve(modelDir)), "--engine-workers", "2"], models };
      }),
  ];
  for (const { flags, models } of configs) {
    const s = await startBenchServer(flags);
    const c = makeClients(s.address);
    for (const model of models) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => unary(c.classifier, "Classify", { model, tensor: t, options: { exit: i % 2 ? 6 : 0 } })));
    }
    c.close();
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.proc.pid}/status`, "utf8"))![1]) / 1024;
    const what = models[0] ? `${models.length} model(s) in a repository, 2 workers` : flags.slice(2).join(" ");
    console.log(`${what}: ${rss.toFixed(0)} MiB resident`);
    await s.stop();
  }
}

runMain(main);
