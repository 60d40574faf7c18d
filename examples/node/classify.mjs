// Classify images with the ranet.v1 API from Node: @grpc/grpc-js with the service loaded from
// this repository's proto/ at run time (@grpc/proto-loader).
//
//   node examples/node/classify.mjs localhost:50051 examples/images/*.png [--model NAME]
//
// Prints one line per image: label, exit, confidence and the multiply-adds spent.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const args = process.argv.slice(2);
const modelAt = args.indexOf("--model");
const model = modelAt >= 0 ? args.splice(modelAt, 2)[1] : "";
const [address, ...images] = args;
if (!address || images.length === 0) {
  console.error("usage: node examples/node/classify.mjs HOST:PORT IMAGE... [--model NAME]");
  process.exit(2);
}

const protoDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
const definition = protoLoader.loadSync("ranet/v1/classifier.proto", { includeDirs: [protoDir], keepCase: true, longs: Number, defaults: true });
const { ranet } = grpc.loadPackageDefinition(definition);
const client = new ranet.v1.Classifier(address, grpc.credentials.createInsecure());

const classify = (request) =>
  new Promise((resolve, reject) => client.Classify(request, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));

for (const file of images) {
  const r = await classify({ model, image: readFileSync(file) });
  console.log(`${file}: ${r.label} (exit ${r.exit}, confidence ${r.confidence.toFixed(3)}, ${(r.flops / 1e6).toFixed(2)} MMACs)`);
}
client.close();
