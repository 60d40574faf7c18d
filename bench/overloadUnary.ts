/**
 * Unary overload benchmark: where a client's seconds go when unary Classify is offered twice the
 * server's capacity. Measures the served capacity (closed loop, unary, 64 calls in flight), then
 * for each HTTP/2 connection window of the server (HTTP/2's default 65535, and the configured
 * default) and each client (a lean node:http2 client and @grpc/grpc-js, each in its own process,
 * open loop on one connection) offers `factor` x capacity for `seconds`, and reports what the
 * client saw beside what the server's latency histogram saw. Writes docs/results/overload-unary.md.
 *
 *   npm run bench:overload-unary -- [--seconds 8] [--factor 2] [--exit 6] [--connections 1]
 *                                   [--model-dir DIR] [--out docs/results/overload-unary.md]
 *
 * --exit: ClassifyOptions.exit of every request (1-based; 0 = adaptive at the default budget).
 */
import { writeFileSync } from "node:fs";
import { FIELDS } from "../src/config/config.js";
import { loadManifest } from "../src/format/manifest.js";
import { loadFashionMnist, tensorBytesOf } from "../test/support/fashionMnist.js";
import { runLoad } from "../test/support/loadgen.js";
import { startBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";
import { type OpenLoopUnaryArgs, type OpenLoopUnaryResult, runOpenLoopUnary } from "./lib/openLoopUnary.js";

const seconds = Number(arg("seconds", "8"));
const factor = Number(arg("factor", "2"));
const exit = Number(arg("exit", "6"));
const connections = Number(arg("connections", "1"));
const modelDir = arg("model-dir", "models/repository/ranet-fmnist/1");
const out = arg("out", "docs/results/overload-unary.md");
const log = (s: string) => process.stderr.write(`${s}\n`);

/** The server's gRPC Classify latency histogram: cumulative counts by upper bound in seconds (none before the first call). */
async function serverHistogram(metricsPort: number): Promise<[number, number][]> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = text
    .split("\n")
    .filter((l) => l.startsWith("ranet_request_duration_seconds_bucket{") && l.includes('method="Classify"') && l.includes('protocol="grpc"'))
    .map((l): [number, number] => {
      const le = /le="([^"]+)"/.exec(l)![1]!;
      return [le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), Number(l.split(" ").at(-1))];
    });
  return buckets;
}

/** The upper bound of the bucket that holds quantile `q` (what a histogram can say of it). */
function bucketQuantile(h: [number, number][], q: number): number {
  const total = h[h.length - 1]?.[1] ?? 0;
  return h.find(([, n]) => n >= q * total)?.[0] ?? Number.NaN;
}

interface Row {
  windowBytes: number;
  client: OpenLoopUnaryArgs["client"];
  r: OpenLoopUnaryResult;
  serverP99S: number;
  serverOverOneS: number;
}

async function main(): Promise<void> {
  const manifest = await loadManifest(modelDir);
  const bytes = tensorBytesOf(loadFashionMnist("test"), 2000, manifest.input);
  const options = exit > 0 ? { exit } : undefined;
  const request = (i: number) => ({ tensor: { shape: manifest.input.shape, data: bytes[i % bytes.length] }, options });
  const defaultWindow = FIELDS.http2ConnectionWindowBytes[1];
  let capacity = 0;
  const rows: Row[] = [];
  for (const windowBytes of [65_535, defaultWindow]) {
    for (const client of ["node-http2", "grpc-js"] as const) {
      const server = await startBenchServer(["--model-dir", modelDir, "--http2-connection-window-bytes", String(windowBytes)]);
      try {
        if (capacity === 0) {
          log("capacity (closed loop, unary, 64 in flight) ...");
          capacity = (await runLoad({ address: server.address, concurrency: 64, api: "unary", durationMs: 5000, warmupMs: 1000, request })).throughput;
        }
        const port = Number(server.address.split(":").pop());
        log(`window ${windowBytes}, ${client}: offering ${(factor * capacity).toFixed(0)}/s for ${seconds} s ...`);
        const before = await serverHistogram(server.metricsPort!);
        const r = await runOpenLoopUnary({ port, client, ratePerS: factor * capacity, seconds, connections, modelDir, exit });
        const after = await serverHistogram(server.metricsPort!);
        if (after.length === 0) throw new Error("the server's metrics have no ranet_request_duration_seconds buckets for gRPC Classify");
        const h = after.map(([le, n], i): [number, number] => [le, n - (before[i]?.[1] ?? 0)]);
        const total = h[h.length - 1]?.[1] ?? 0;
        const underOne = h.find(([le]) => le === 1)?.[1] ?? 0;
        rows.push({ windowBytes, client, r, serverP99S: bucketQuantile(h, 0.99), serverOverOneS: total - underOne });
        log(`  ${JSON.stringify(r)}`);
      } finally {
        await server.stop();
      }
    }
  }
  const ms = (x: number) => x.toFixed(0);
  const text = [
    "# Unary overload: what the client sees",
    "",
    `\`npm run bench:overload-unary -- --seconds ${seconds} --factor ${factor} --exit ${exit} --connections ${connections}\`, ${new Date().toISOString().slice(0, 16)}Z, model ${manifest.name} v${manifest.version}.`,
    `Machine: ${machine()}; server (default settings but the window) and client share the machine, each in its own process.`,
    `Capacity: ${capacity.toFixed(0)} requests/s (closed loop, unary @grpc/grpc-js, 64 calls in flight, ${exit > 0 ? `every request forced to exit ${exit}` : "adaptive"}). Offered: ${factor}x that, open loop, for ${seconds} s, on ${connections} HTTP/2 connection(s). Images: the first 2,000 of the Fashion-MNIST test set, cycled.`,
    "The server's figures come from its own latency histogram (ranet_request_duration_seconds, method Classify: handler start to answer; p99 as the upper bound of its bucket).",
    "",
    "| server connection window, bytes | client | offered /s | OK | RESOURCE_EXHAUSTED | other / unanswered | client OK latency p50 / p99 / max ms | server histogram p99 ≤ s | server answers over 1 s | client CPU s/s | client event-loop use |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(({ windowBytes, client, r, serverP99S, serverOverOneS }) => {
      const ok = r.codes["0"] ?? 0;
      const shed = r.codes["8"] ?? 0;
      return `| ${windowBytes.toLocaleString("en-US")} | ${client} | ${r.sentPerS.toFixed(0)} | ${ok} | ${shed} (${((100 * shed) / r.sent).toFixed(1)}%) | ${r.sent - ok - shed - r.unanswered} / ${r.unanswered} | ${ms(r.okMs.p50)} / ${ms(r.okMs.p99)} / ${ms(r.okMs.max)} | ${serverP99S} | ${serverOverOneS} | ${r.clientCpuPerS.toFixed(2)} | ${r.clientEventLoopUtilization.toFixed(2)} |`;
    }),
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
