/**
 * An open-loop unary Classify client, run as its own process by bench:overload-unary so that the
 * server and the client do not share an event loop. Requests leave on schedule whatever the
 * answers, spread over `connections` HTTP/2 connections, sent either by a lean node:http2 client
 * (one request = one stream with the pre-encoded message; the client measures its own CPU so a
 * report can show it was not the bottleneck) or by @grpc/grpc-js (what most Node clients use).
 * Prints one JSON line (OpenLoopUnaryResult) when every request is answered or 30 s after the
 * last one left.
 *
 *   node --import tsx bench/lib/openLoopUnaryClient.ts '<OpenLoopUnaryArgs as JSON>'
 * (runOpenLoopUnary in openLoopUnary.ts starts it).
 */
import http2 from "node:http2";
import { performance } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";
import { loadManifest } from "../../src/format/manifest.js";
import { loadFashionMnist, tensorBytesOf } from "../../test/support/fashionMnist.js";
import { quantile } from "../../test/support/loadRecord.js";
import { encode } from "../../test/support/rawGrpc.js";
import type { OpenLoopUnaryArgs, OpenLoopUnaryResult } from "./openLoopUnary.js";

const a = JSON.parse(process.argv[2]!) as OpenLoopUnaryArgs;
const manifest = await loadManifest(a.modelDir);
const tensors = tensorBytesOf(loadFashionMnist("test"), 500, manifest.input);
const messages = tensors.map((data) =>
  encode("ranet.v1.ClassifyRequest", {
    model: a.model ?? "",
    tensor: { shape: manifest.input.shape, data },
    options: { exit: a.exit, priority: a.priority ?? 0 },
  }),
);
const PATH = "/ranet.v1.Classifier/Classify";
const okMs: number[] = [];
const okBySecond: number[][] = [];
let start = 0;
const codes: Record<string, number> = {};
let answered = 0;
const record = (code: string, sentAtMs: number, ms: number) => {
  answered++;
  codes[code] = (codes[code] ?? 0) + 1;
  if (code !== "0") return;
  okMs.push(ms);
  const second = Math.floor((sentAtMs - start) / 1000);
  okBySecond[second] ??= [];
  okBySecond[second].push(ms);
};

let send: (i: number) => void;
let close: () => void;
if (a.client === "node-http2") {
  const frames = messages.map((m) => {
    const f = Buffer.alloc(5 + m.length);
    f.writeUInt32BE(m.length, 1);
    m.copy(f, 5);
    return f;
  });
  const sessions = Array.from({ length: a.connections }, () => http2.connect(`http://127.0.0.1:${a.port}`));
  await Promise.all(sessions.map((s) => new Promise((r) => s.once("connect", r))));
  // a connection the server closes fails its streams, which count as unanswered; the client carries on
  for (const s of sessions) s.on("error", (err) => process.stderr.write(`connection error: ${err.message}\n`));
  send = (i) => {
    const t0 = performance.now();
    const req = sessions[i % sessions.length]!.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers" });
    let code = "unanswered";
    const status = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) code = String(h["grpc-status"]);
    };
    req.on("response", status); // a trailers-only answer (a refusal) carries its status here
    req.on("trailers", status);
    req.on("data", () => {});
    req.on("error", () => {});
    req.on("close", () => record(code, t0, performance.now() - t0));
    req.end(frames[i % frames.length]);
  };
  close = () => sessions.forEach((s) => void s.close());
} else {
  const identity = (b: Buffer) => b;
  // a distinct option per client keeps grpc-js from sharing one connection between them
  const clients = Array.from(
    { length: a.connections },
    (_, k) => new grpc.Client(`127.0.0.1:${a.port}`, grpc.credentials.createInsecure(), { "grpc.bench_connection": k }),
  );
  send = (i) => {
    const t0 = performance.now();
    clients[i % clients.length]!.makeUnaryRequest(PATH, identity, identity, messages[i % messages.length]!, { deadline: Date.now() + 60_000 }, (err) =>
      record(String(err ? err.code : 0), t0, performance.now() - t0),
    );
  };
  close = () => clients.forEach((c) => void c.close());
}

const startedLateMs = a.startAtMs === undefined ? 0 : Math.max(0, Date.now() - a.startAtMs);
if (a.startAtMs !== undefined && startedLateMs === 0) await new Promise((r) => setTimeout(r, a.startAtMs! - Date.now()));
if (startedLateMs > 0) process.stderr.write(`open-loop client ready ${startedLateMs} ms after its start time; starting at once\n`);
const cpu0 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
start = t0;
let sent = 0;
while (performance.now() - t0 < a.seconds * 1000) {
  const due = Math.floor(((performance.now() - t0) / 1000) * a.ratePerS);
  for (; sent < due; sent++) send(sent);
  await new Promise((r) => setTimeout(r, 1));
}
const sendingS = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const elu = performance.eventLoopUtilization(elu0);
const end = performance.now();
while (answered < sent && performance.now() - end < 30_000) await new Promise((r) => setTimeout(r, 20));
close();
const result: OpenLoopUnaryResult = {
  sent,
  sentPerS: sent / sendingS,
  codes,
  unanswered: sent - answered,
  okMs: { p50: quantile(okMs, 0.5), p99: quantile(okMs, 0.99), max: Math.max(...okMs) },
  okP99BySecondMs: Array.from(okBySecond, (xs) => quantile(xs ?? [], 0.99)),
  okSecondHalfP99Ms: quantile(
    okBySecond.slice(Math.floor(a.seconds / 2)).flatMap((xs) => xs ?? []),
    0.99,
  ),
  startedLateMs,
  clientCpuPerS: (cpu.user + cpu.system) / 1e6 / sendingS,
  clientEventLoopUtilization: elu.utilization,
};
console.log(JSON.stringify(result));
process.exit(0);
