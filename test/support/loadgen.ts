import { status as grpcStatus } from "@grpc/grpc-js";
import { makeClients, unary } from "../../src/cli/clients.js";
import type { ClassifyRequest } from "../../src/generated/ranet/v1/ClassifyRequest.js";
import { inFlightPerStream, LoadRecord, type LoadResult, quantile } from "./loadRecord.js";
import { type OipLoadKind, type OipLoadOptions, runOipLoad } from "./oipLoad.js";
import { runRawStreamLoad } from "./rawStreamLoad.js";

export type { LoadResult };

export interface LoadOptions {
  address: string;
  concurrency: number;
  /**
   * unary Classify calls, or requests multiplexed on ClassifyStream streams (4 streams), sent by
   * @grpc/grpc-js ("stream") or by the leaner node:http2 client of rawStreamLoad.ts ("h2stream",
   * which sends `body` instead of `request`).
   */
  api?: "unary" | "stream" | "h2stream" | OipLoadKind;
  /** The OIP kinds (oipLoad.ts): the model, inputs and exit of ModelInfer; `address` is the REST port's for the REST kinds. */
  oip?: Pick<OipLoadOptions, "model" | "inputs" | "shape" | "exit">;
  durationMs: number;
  warmupMs?: number;
  /** Called when the measuring window opens and closes (e.g. to sample the server's CPU time). */
  onWindow?: (edge: "start" | "end") => void;
  /** Builds request i (the body of ranet.v1 ClassifyRequest). */
  request: (i: number) => ClassifyRequest;
  /** api "h2stream": request i protobuf-encoded without its request_id (rawGrpc.ts `encode`), built once per input. */
  body?: (i: number) => Buffer;
}

const RETRY_BACKOFF_MS = 10;

/** Closed-loop load: `concurrency` requests in flight, each answer replaced by the next request. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.api === "h2stream") {
    if (!o.body) throw new Error('runLoad: api "h2stream" needs body(i), the encoded requests');
    return runRawStreamLoad({ ...o, body: o.body, retryBackoffMs: RETRY_BACKOFF_MS });
  }
  if (o.api === "oip-grpc" || o.api === "rest-binary" || o.api === "rest-json") {
    if (!o.oip) throw new Error(`runLoad: api "${o.api}" needs oip, the model and inputs of ModelInfer`);
    return runOipLoad({ ...o, ...o.oip, kind: o.api, retryBackoffMs: RETRY_BACKOFF_MS });
  }
  const c = makeClients(o.address);
  let i = 0;
  const record = new LoadRecord();
  let stop = false;
  const streamWorker = (inflight: number) =>
    new Promise<void>((resolve, reject) => {
      const call = c.classifier.ClassifyStream();
      const sent = new Map<string, number>();
      const send = () => {
        const id = String(i);
        sent.set(id, performance.now());
        call.write({ ...o.request(i++), request_id: id });
      };
      call.on("data", (res: { request_id: string; flops: number; exit: number; error?: { code: number } | null }) => {
        const t0 = sent.get(res.request_id);
        sent.delete(res.request_id);
        if (res.error) record.refused(String(res.error.code));
        else record.answered(res.exit, res.flops, t0 === undefined ? undefined : performance.now() - t0);
        if (!stop) {
          // a refused request is retried after a pause, as the API asks of clients
          if (res.error) setTimeout(() => (stop ? sent.size === 0 && call.end() : send()), RETRY_BACKOFF_MS);
          else send();
        } else if (sent.size === 0) call.end();
      });
      call.on("end", resolve);
      call.on("error", reject);
      for (let k = 0; k < inflight; k++) send();
    });
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const res = await unary(c.classifier, "Classify", o.request(i++), 30_000);
        record.answered(res.exit, res.flops, performance.now() - t0);
      } catch (err) {
        record.refused(String((err as { code?: number }).code ?? "?"));
        await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
      }
    }
  };
  const workers =
    o.api === "stream" ? inFlightPerStream(o.concurrency, Math.min(4, o.concurrency)).map(streamWorker) : Array.from({ length: o.concurrency }, worker);
  const seconds = await record.measure(o);
  stop = true;
  await Promise.all(workers);
  c.close();
  return record.result(seconds);
}

export interface OpenLoopOptions {
  address: string;
  /** Offered requests per second, sent on schedule whatever the answers. */
  rate: number;
  durationMs: number;
  /** ClassifyStream streams the requests are spread over. */
  streams?: number;
  request: (i: number) => ClassifyRequest;
  /** Called with every OK answer and the index of its request. */
  onAnswer?: (i: number, res: { class_index: number; exit: number; flops: number }) => void;
}

export interface OpenLoopResult {
  sent: number;
  /** Offered rate actually achieved (the sender can fall behind on a busy machine). */
  sentPerSecond: number;
  /** Answers by gRPC status name ("OK", "RESOURCE_EXHAUSTED", ...). */
  codes: Record<string, number>;
  /** Requests never answered (stream ended or broke first). */
  unanswered: number;
  okPerSecond: number;
  /** Latency of the OK answers, send to answer. */
  okLatencyMs: { p50: number; p99: number; max: number };
  /** Mean multiply-adds spent per OK answer. */
  okMeanFlops: number;
  /** p99 latency of the OK answers by the second they were sent in. */
  okP99BySecondMs: number[];
}

/** Open-loop load over ClassifyStream: requests leave at a fixed rate, answered or not. */
export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const c = makeClients(o.address);
  const streams = Array.from({ length: o.streams ?? 4 }, () => c.classifier.ClassifyStream());
  const sentAt = new Map<string, number>();
  const codes: Record<string, number> = {};
  const lat: number[] = [];
  const bySecond: number[][] = [];
  let okFlops = 0;
  let start = 0;
  const ended = streams.map(
    (call) =>
      new Promise<void>((resolve) => {
        call.on("data", (res: { request_id: string; class_index: number; exit: number; flops: number; error?: { code: number } | null }) => {
          const t0 = sentAt.get(res.request_id);
          sentAt.delete(res.request_id);
          const code = res.error ? (grpcStatus[res.error.code] ?? String(res.error.code)) : "OK";
          codes[code] = (codes[code] ?? 0) + 1;
          if (!res.error) {
            okFlops += res.flops;
            o.onAnswer?.(Number(res.request_id), res);
          }
          if (!res.error && t0 !== undefined) {
            const ms = performance.now() - t0;
            lat.push(ms);
            const second = Math.floor((t0 - start) / 1000);
            bySecond[second] ??= [];
            bySecond[second].push(ms);
          }
        });
        call.on("end", resolve);
        call.on("error", () => resolve());
      }),
  );
  let sent = 0;
  start = performance.now();
  const t0 = start;
  while (performance.now() - t0 < o.durationMs) {
    const due = Math.floor(((performance.now() - t0) / 1000) * o.rate);
    for (; sent < due; sent++) {
      const id = String(sent);
      sentAt.set(id, performance.now());
      streams[sent % streams.length]!.write({ ...o.request(sent), request_id: id });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const seconds = (performance.now() - t0) / 1000;
  streams.forEach((s) => {
    s.end();
  });
  await Promise.all(ended);
  c.close();
  const q = (p: number) => quantile(lat, p);
  return {
    okMeanFlops: okFlops / Math.max(1, codes.OK ?? 0),
    okP99BySecondMs: Array.from(bySecond, (xs) => quantile(xs ?? [], 0.99)),
    sent,
    sentPerSecond: sent / seconds,
    codes,
    unanswered: sentAt.size,
    okPerSecond: (codes.OK ?? 0) / seconds,
    okLatencyMs: { p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1] ?? NaN },
  };
}
