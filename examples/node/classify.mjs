// Classify images with the ranet.v1 API from Node: @grpc/grpc-js with the service loaded from
// this repository's proto/ at run time (@grpc/proto-loader). From the repository's root, after
// `npm ci`:
//
//   node examples/node/classify.mjs localhost:50051 examples/images/*.png
//
// Prints one line per image: label, exit, confidence and the multiply-adds spent. `--model NAME`
// picks a model of the server's repository (default: the server's default model). A call the
// server refuses prints its status code and message and exits 1.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The server's default maxMessageBytes: a larger request is refused before it is read. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const args = process.argv.slice(2);
const modelAt = args.indexOf("--model");
const model = modelAt >= 0 ? args.splice(modelAt, 2)[1] : "";
const [address, ...images] = args;
if (!address || images.length === 0) {
  console.error("usage: node examples/node/classify.mjs HOST:PORT IMAGE... [--model NAME]");
  process.exit(2);
}
for (const file of images) {
  const size = statSync(file).size;
  if (size > MAX_MESSAGE_BYTES - 1024) {
    console.error(`error: ${file} is ${size} bytes, over the server's maxMessageBytes (${MAX_MESSAGE_BYTES}); send a smaller image`);
    process.exit(1);
  }
}

const protoDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
const definition = protoLoader.loadSync("ranet/v1/classifier.proto", { includeDirs: [protoDir], keepCase: true, longs: Number, defaults: true });
const { ranet } = grpc.loadPackageDefinition(definition);
const client = new ranet.v1.Classifier(address, grpc.credentials.createInsecure());

const classify = (request) =>
  new Promise((resolve, reject) => client.Classify(request, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));

/** A gRPC error as `CODE: message`, with what to do for the errors a first call meets. */
function explain(err) {
  const code = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code) ?? String(err.code);
  const details = String(err.details ?? err.message)
    .replace(/\s*Resolution note:\s*$/, "")
    .trim();
  if (err.code === grpc.status.UNAVAILABLE && /connect/i.test(details)) return `${code}: cannot reach a server at ${address} (${details}); is it running?`;
  if (err.code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/.test(details))
    return `${code}: ${details}: the request is over the server's maxMessageBytes; send a smaller image`;
  return `${code}: ${details}`;
}

let code = 0;
try {
  for (const file of images) {
    const r = await classify({ model, image: readFileSync(file) });
    console.log(`${file}: ${r.label} (exit ${r.exit}, confidence ${r.confidence.toFixed(3)}, ${(r.flops / 1e6).toFixed(2)} MMACs)`);
  }
} catch (err) {
  if (err?.code === undefined) throw err;
  console.error(`error: ${explain(err)}`);
  code = 1;
} finally {
  client.close();
}
process.exitCode = code;
