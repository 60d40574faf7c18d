import { Agent, request as httpRequest } from "node:http";
import { makeClients, unary } from "../../src/cli/clients.js";
import { LoadRecord, type LoadResult } from "./loadRecord.js";

/** How an Open Inference Protocol load sends ModelInfer: gRPC, or REST with binary or JSON tensors. */
export type OipLoadKind = "oip-grpc" | "rest-binary" | "rest-json";

export interface OipLoadOptions {
  kind: OipLoadKind;
  /** host:port of the gRPC listener (oip-grpc) or of the REST one. */
  address: string;
  model: string;
  /** Requests in flight, each answer replaced by the next request (closed loop). */
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  onWindow?: (edge: "start" | "end") => void;
  /** FP32 input tensors (little-endian), one image each, of `shape` (without the batch dimension). */
  inputs: Buffer[];
  shape: readonly number[];
  /** Fixed 1-based exit, 0 = adaptive. */
  exit: number;
  retryBackoffMs: number;
}

/**
 * Closed-loop ModelInfer load, one image per call, answered with the `class` output; exit and
 * FLOPs read from the response parameters. REST goes through node:http with keep-alive
 * connections (one per call in flight); each request body is built once per input.
 */
export async function runOipLoad(o: OipLoadOptions): Promise<LoadResult> {
  const record = new LoadRecord();
  let stop = false;
  let i = 0;
  const shape = [1, ...o.shape];
  const params = o.exit ? { exit: o.exit } : {};
  let send: (k: number) => Promise<{ exit: number; flops: number }>;
  let close = () => {};
  if (o.kind === "oip-grpc") {
    const c = makeClients(o.address);
    close = () => c.close();
    send = async (k) => {
      const res = await unary(c.inference, "ModelInfer", {
        model_name: o.model,
        inputs: [{ name: "image", datatype: "FP32", shape }],
        raw_input_contents: [o.inputs[k]!],
        outputs: [{ name: "class" }],
        parameters: o.exit ? { exit: { int64_param: o.exit } } : {},
      });
      return { exit: Number(res.parameters.exit?.int64_param), flops: Number(res.parameters.flops?.int64_param) };
    };
  } else {
    const [host, port] = [o.address.slice(0, o.address.lastIndexOf(":")), Number(o.address.slice(o.address.lastIndexOf(":") + 1))];
    const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
    close = () => agent.destroy();
    const bodies = o.inputs.map((x) => {
      if (o.kind === "rest-json") {
        const data = Array.from(new Float32Array(x.buffer, x.byteOffset, x.byteLength / 4));
        return {
          body: Buffer.from(JSON.stringify({ parameters: params, inputs: [{ name: "image", datatype: "FP32", shape, data }], outputs: [{ name: "class" }] })),
          headers: {},
        };
      }
      const header = Buffer.from(
        JSON.stringify({
          parameters: params,
          inputs: [{ name: "image", datatype: "FP32", shape, parameters: { binary_data_size: x.length } }],
          outputs: [{ name: "class", parameters: { binary_data: true } }],
        }),
      );
      return { body: Buffer.concat([header, x]), headers: { "Inference-Header-Content-Length": String(header.length) } };
    });
    const path = `/v2/models/${o.model}/infer`;
    send = (k) =>
      new Promise((resolve, reject) => {
        const { body, headers } = bodies[k]!;
        const req = httpRequest({ host, port, path, method: "POST", agent, headers: { ...headers, "Content-Length": body.length } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            const all = Buffer.concat(chunks);
            if (res.statusCode !== 200) return reject(Object.assign(new Error(all.toString()), { code: res.statusCode }));
            const n = Number(res.headers["inference-header-content-length"] ?? all.length);
            const doc = JSON.parse(all.subarray(0, n).toString());
            resolve({ exit: doc.parameters.exit, flops: doc.parameters.flops });
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });
  }
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await send(i++ % o.inputs.length);
        record.answered(r.exit, r.flops, performance.now() - t0);
      } catch (err) {
        record.refused(String((err as { code?: number }).code ?? "?"));
        await new Promise((r) => setTimeout(r, o.retryBackoffMs));
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  const seconds = await record.measure(o);
  stop = true;
  await Promise.all(workers);
  close();
  return record.result(seconds);
}
