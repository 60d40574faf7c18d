import { readFile } from "node:fs/promises";
import { makeClients, unary } from "./clients.js";

const USAGE = `usage: npm run classify -- [--address host:port] [--model NAME] [--exit N] [--flops-budget MACS] [--all-exits] <image files...>

Sends each image (PNG, JPEG or WebP) to ranet.v1.Classifier/Classify and prints the label,
confidence, exit and FLOPs (multiply-adds) spent.
  --address       server address (default 127.0.0.1:50051)
  --model         model of the server's repository (default: the server's default model)
  --exit N        answer from exit N (1-based) instead of adaptively
  --flops-budget  anytime budget in multiply-adds: deepest exit within it
  --all-exits     also print every executed exit's prediction
  --timeout-ms    per-request deadline (default 10000)`;

async function main(argv: string[]): Promise<number> {
  let address = "127.0.0.1:50051";
  let model = "";
  let exit = 0;
  let budget = 0;
  let all = false;
  let timeoutMs = 10_000;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    } else if (a === "--address") address = value();
    else if (a === "--model") model = value();
    else if (a === "--exit") exit = Number(value());
    else if (a === "--flops-budget") budget = Number(value());
    else if (a === "--timeout-ms") timeoutMs = Number(value());
    else if (a === "--all-exits") all = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}\n${USAGE}`);
    else files.push(a);
  }
  if (files.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const c = makeClients(address);
  let failed = 0;
  try {
    for (const file of files) {
      try {
        const res = await unary(
          c.classifier,
          "Classify",
          { request_id: file, model, image: await readFile(file), options: { exit, flops_budget: budget, return_all_exits: all, top_k: 3 } },
          timeoutMs,
        );
        console.log(
          `${file}\t${res.label}\t${res.model_name}\tconfidence ${res.confidence.toFixed(3)}\texit ${res.exit} (${res.exit_reason})\t${(res.flops / 1e6).toFixed(2)} MMACs`,
        );
        for (const e of res.exits) console.log(`  exit ${e.exit}: ${e.label} ${e.confidence.toFixed(3)} at ${(e.flops / 1e6).toFixed(2)} MMACs`);
      } catch (err) {
        failed++;
        console.error(`${file}\terror: ${(err as Error).message}`);
      }
    }
  } finally {
    c.close();
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).message);
    process.exit(2);
  },
);
