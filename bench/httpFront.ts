/**
 * Which HTTP server the REST front uses: node:http against fastify, each answering a
 * binary-extension infer request at once (bench/lib/httpFrontServer.ts), under the same
 * closed-loop keep-alive load (64 in flight, node:http client); answers/s and the server's CPU per
 * answer (from /proc), medians of `--rounds` interleaved rounds. fastify is not a dependency:
 * install it in a folder of its own first and name that folder.
 *
 *   mkdir -p /tmp/fastify && npm install --prefix /tmp/fastify fastify@5
 *   npm run bench:http-front -- --fastify-dir /tmp/fastify [--seconds 5] [--rounds 3] [--out docs/results/http-front.md]
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { arg, machine, runMain } from "./lib/cli.js";

const fastifyDir = arg("fastify-dir", "");
const seconds = Number(arg("seconds", "5"));
const rounds = Number(arg("rounds", "3"));
const out = arg("out", "docs/results/http-front.md");
const concurrency = 64;

/** CPU seconds (user + system) process `pid` has used. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function measure(kind: "node" | "fastify"): Promise<{ perSecond: number; cpuUs: number }> {
  const proc = spawn(process.execPath, ["--import", "tsx", "bench/lib/httpFrontServer.ts", kind, fastifyDir], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => proc.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], parameters: { binary_data_size: 3136 } }],
      outputs: [{ name: "class", parameters: { binary_data: true } }],
    }),
  );
  const body = Buffer.concat([header, Buffer.alloc(3136)]);
  const headers = { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(header.length), "Content-Length": body.length };
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let answered = 0;
  let counting = false;
  let stop = false;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/v2/models/m/infer", method: "POST", agent, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve());
      });
      req.on("error", reject);
      req.end(body);
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop) {
      await one();
      if (counting) answered++;
    }
  });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    counting = true;
    const cpu0 = cpuSeconds(proc.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    counting = false;
    const s = (performance.now() - t0) / 1000;
    const used = cpuSeconds(proc.pid!) - cpu0;
    return { perSecond: answered / s, cpuUs: (used * 1e6) / answered };
  } finally {
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    proc.kill();
  }
}

async function main(): Promise<void> {
  if (!fastifyDir) throw new Error("--fastify-dir DIR: a folder where fastify is installed (npm install --prefix DIR fastify@5)");
  const version = JSON.parse(readFileSync(`${fastifyDir}/node_modules/fastify/package.json`, "utf8")).version as string;
  const runs: Record<string, { perSecond: number; cpuUs: number }[]> = { node: [], fastify: [] };
  for (let r = 0; r < rounds; r++) {
    for (const kind of ["node", "fastify"] as const) {
      const m = await measure(kind);
      runs[kind]!.push(m);
      process.stderr.write(`round ${r + 1}/${rounds}: ${kind}: ${m.perSecond.toFixed(0)} answers/s, ${m.cpuUs.toFixed(1)} us/answer\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const row = (name: string, kind: string) => {
    const rs = runs[kind]!;
    const span = (k: "perSecond" | "cpuUs", d: number) =>
      `${median(rs.map((x) => x[k])).toFixed(d)} (${Math.min(...rs.map((x) => x[k])).toFixed(d)}-${Math.max(...rs.map((x) => x[k])).toFixed(d)})`;
    return `| ${name} | ${span("perSecond", 0)} | ${span("cpuUs", 1)} |`;
  };
  const text = [
    "# REST front: node:http against fastify",
    "",
    `\`npm run bench:http-front -- --fastify-dir DIR --seconds ${seconds} --rounds ${rounds}\`, ${new Date().toISOString().slice(0, 16)}Z. Machine: ${machine()}; server and load generator share it.`,
    `Each server answers a binary-extension infer request (3,136 bytes of tensor data after its JSON header) at once: reads the body, parses the header, sends a fixed binary answer. Closed loop, ${concurrency} in flight over keep-alive connections; medians of ${rounds} interleaved rounds (range in brackets).`,
    "",
    "| server | answers/s | server CPU per answer, us |",
    "|---|---:|---:|",
    row("node:http", "node"),
    row(`fastify ${version}`, "fastify"),
    "",
  ].join("\n");
  writeFileSync(out, text);
  console.log(text);
}

runMain(main);
