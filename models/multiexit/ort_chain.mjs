// Chains a model folder's ONNX stages in onnxruntime-node, as the server does, over a batch of
// preprocessed images, and writes every exit's logits.
// Usage: node ort_chain.mjs MODEL_DIR INPUT.bin COUNT OUTPUT.bin
//   INPUT.bin: float32 little-endian [COUNT, C, H, W]; OUTPUT.bin: float32 [COUNT, exits, classes].
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";

const [dir, inputFile, countText, outputFile] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
const count = Number(countText);
const buf = readFileSync(inputFile);
const pixels = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const [c, h, w] = manifest.input.shape;
const classes = manifest.labels.length;
const exits = manifest.stages.length;
const out = new Float32Array(count * exits * classes);
const sessions = [];
for (const st of manifest.stages) {
  sessions.push(await ort.InferenceSession.create(path.join(dir, st.file), { executionProviders: ["cpu"] }));
}
const batch = 256;
for (let start = 0; start < count; start += batch) {
  const n = Math.min(batch, count - start);
  const env = { [manifest.input.name]: new ort.Tensor("float32", pixels.subarray(start * c * h * w, (start + n) * c * h * w), [n, c, h, w]) };
  for (const [k, st] of manifest.stages.entries()) {
    const feeds = Object.fromEntries(st.inputs.map((name) => [name, env[name]]));
    const res = await sessions[k].run(feeds);
    Object.assign(env, res);
    const logits = res.logits.data;
    for (let i = 0; i < n; i++) out.set(logits.subarray(i * classes, (i + 1) * classes), ((start + i) * exits + k) * classes);
  }
}
writeFileSync(outputFile, Buffer.from(out.buffer));
