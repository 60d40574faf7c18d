/**
 * Resident memory of the server by engine worker count: each configuration in its own
 * process, warmed up, 200 requests (half forced to the last exit), then VmRSS from /proc.
 *
 *   npm run bench:memory -- [--workers 1,2,4] [--model-dir DIR]
 */
import { readFileSync } from "node:fs";
import { makeClients, unary } from "../src/cli/clients.js";
import { parityFixtures, tensorBytes } from "../test/support/fixtures.js";
import { startServerProcess } from "../test/support/serverProcess.js";
import { arg, runMain } from "./lib/cli.js";

async function main(): Promise<void> {
  const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
  const t = { shape: [1, 28, 28], data: tensorBytes(parityFixtures()[0]!.input) };
  const configs: string[][] = [
    ["--engine-workers", "1", "--fused-path", "false"],
    ...arg("workers", "1,2,4")
      .split(",")
      .map((w) => ["--engine-workers", w]),
  ];
  for (const flags of configs) {
    const s = await startServerProcess(["--model-dir", modelDir, ...flags]);
    const c = makeClients(s.address);
    await Promise.all(Array.from({ length: 200 }, (_, i) => unary(c.classifier, "Classify", { tensor: t, options: { exit: i % 2 ? 6 : 0 } })));
    c.close();
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.proc.pid}/status`, "utf8"))![1]) / 1024;
    console.log(`${flags.join(" ")}: ${rss.toFixed(0)} MiB resident`);
    await s.stop();
  }
}

runMain(main);
