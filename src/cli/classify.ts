import { readFile } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import { makeClients, unary } from "./clients.js";

/** The server's default maxMessageBytes: a larger request is refused before the server reads it. */
const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Room for the request's other fields beside the image. */
const ENVELOPE_BYTES = 1024;

const USAGE = `usage: npm run classify -- [--address host:port] [--model NAME] [--exit N] [--flops-budget MACS] [--all-exits] <image files...>

Sends each image (PNG, JPEG or WebP) to ranet.v1.Classifier/Classify and prints the label,
confidence, exit and FLOPs (multiply-adds) spent.
  --address       server address (default 127.0.0.1:50051)
  --model         model of the server's repository (default: the server's default model)
  --exit N        answer from exit N (1-based) instead of adaptively
  --flops-budget  anytime budget in multiply-adds: deepest exit within it
  --all-exits     also print every executed exit's prediction
  --timeout-ms    per-request deadline (default 10000)
  --max-message-bytes  the server's maxMessageBytes: larger images are not sent (default ${DEFAULT_MAX_MESSAGE_BYTES})`;

/** A call's error as a person reads it: the status name and message, with what to do for a refused connection or an oversized message. */
function explainError(err: Error & { code?: number; details?: string }, address: string, maxMessageBytes: number): string {
  if (err.code === undefined) return err.message;
  const name = status[err.code] ?? String(err.code);
  const details = String(err.details ?? err.message)
    .replace(/\s*Resolution note:\s*$/, "")
    .trim();
  if (err.code === status.UNAVAILABLE && /connect/i.test(details)) return `${name}: cannot reach a server at ${address} (${details}); is it running?`;
  if (err.code === status.RESOURCE_EXHAUSTED && /larger than max/.test(details)) {
    return `${name}: ${details}: the request is over the server's maxMessageBytes (${maxMessageBytes} unless the server sets another); send a smaller image, or raise maxMessageBytes on the server and pass --max-message-bytes`;
  }
  return `${name}: ${details}`;
}

async function main(argv: string[]): Promise<number> {
  let address = "127.0.0.1:50051";
  let model = "";
  let exit = 0;
  let budget = 0;
  let all = false;
  let timeoutMs = 10_000;
  let maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
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
    else if (a === "--max-message-bytes") maxMessageBytes = Number(value());
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
        const image = await readFile(file);
        if (image.byteLength > maxMessageBytes - ENVELOPE_BYTES) {
          throw new Error(
            `${image.byteLength} bytes, over the server's maxMessageBytes (${maxMessageBytes}); not sent: send a smaller image, or raise maxMessageBytes on the server and pass --max-message-bytes`,
          );
        }
        const res = await unary(
          c.classifier,
          "Classify",
          { request_id: file, model, image, options: { exit, flops_budget: budget, return_all_exits: all, top_k: 3 } },
          timeoutMs,
        );
        console.log(
          `${file}\t${res.label}\t${res.model_name}\tconfidence ${res.confidence.toFixed(3)}\texit ${res.exit} (${res.exit_reason})\t${(res.flops / 1e6).toFixed(2)} MMACs`,
        );
        for (const e of res.exits) console.log(`  exit ${e.exit}: ${e.label} ${e.confidence.toFixed(3)} at ${(e.flops / 1e6).toFixed(2)} MMACs`);
      } catch (err) {
        failed++;
        console.error(`${file}\terror: ${explainError(err as Error, address, maxMessageBytes)}`);
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
