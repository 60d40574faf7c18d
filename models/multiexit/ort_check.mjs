// Runs exported ONNX stages in onnxruntime-node for the exporter's ONNX-vs-PyTorch check.
// Usage: node ort_check.mjs JOBS.json; JOBS.json = {outDir, jobs: [{model, feeds: {name: {file, dims}}, outputs}]}.
// Each feed is a float32 little-endian file; writes each output to outDir and prints
// {results: [{name: {file, dims}}]} on stdout.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const [j, job] of spec.jobs.entries()) {
  const session = await ort.InferenceSession.create(job.model, { executionProviders: ["cpu"], intraOpNumThreads: 1 });
  const feeds = {};
  for (const [name, f] of Object.entries(job.feeds)) {
    const buf = readFileSync(f.file);
    feeds[name] = new ort.Tensor("float32", new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), f.dims);
  }
  const out = await session.run(feeds);
  const res = {};
  for (const name of job.outputs) {
    const file = path.join(spec.outDir, `out-${j}-${Object.keys(res).length}-${name.replace(/[^A-Za-z0-9_]/g, "_")}.bin`);
    const t = out[name];
    writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    res[name] = { file, dims: t.dims };
  }
  results.push(res);
  await session.release();
}
process.stdout.write(JSON.stringify({ results }));
