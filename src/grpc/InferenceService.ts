import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelSource } from "../model/ModelHost.js";
import type { Classifier } from "../pipeline/Classifier.js";
import { invalidArgument, ServingError } from "../pipeline/errors.js";
import type { ClassifyResult, RequestOptions } from "../pipeline/Pipeline.js";
import type { CallObserver } from "./CallObserver.js";
import { statusFor } from "./statusFor.js";
import { unaryHandler } from "./unaryHandler.js";

interface InferParameter {
  parameter_choice?: "bool_param" | "int64_param" | "string_param" | "double_param" | "uint64_param";
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
}

interface InferInput {
  name: string;
  datatype: string;
  shape: number[];
  contents?: { fp32_contents: number[]; bytes_contents: Buffer[] } | null;
}

interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: InferInput[];
  outputs: { name: string }[];
  raw_input_contents: Buffer[];
}

/** Outputs of ModelInfer, per sample; `probabilities` is [N, classes]. */
const OUTPUTS = {
  class: "INT64",
  label: "BYTES",
  confidence: "FP32",
  exit: "INT32",
  flops: "INT64",
  probabilities: "FP32",
} as const;
type OutputName = keyof typeof OUTPUTS;

const PARAMS = ["flops_budget", "exit", "anytime"];

/** Open Inference Protocol (KServe v2 / Triton) front door on the same pipeline. */
export class InferenceService {
  constructor(
    private readonly models: ModelSource<ServedModel>,
    private readonly ready: () => boolean,
    private readonly observe: CallObserver,
    private readonly log: Logger,
    private readonly serverVersion: string,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = unaryHandler;
    return {
      ServerLive: unary(() => ({ live: true })),
      ServerReady: unary(() => ({ ready: this.ready() })),
      ModelReady: unary((req: { name: string; version: string }) => {
        this.models.current.classifier.checkModel(req.name || "?", req.version);
        return { ready: this.ready() };
      }),
      ServerMetadata: unary(() => ({ name: "ranet-serving", version: this.serverVersion, extensions: ["parameters"] })),
      ModelMetadata: unary((req: { name: string; version: string }) => {
        const c = this.models.current.classifier;
        c.checkModel(req.name || "?", req.version);
        return {
          name: c.name,
          versions: [c.version],
          platform: "onnxruntime_staged",
          inputs: [
            { name: c.input.name, datatype: "FP32", shape: [-1, ...c.input.shape] },
            { name: c.input.name, datatype: "BYTES", shape: [-1] },
          ],
          outputs: (Object.keys(OUTPUTS) as OutputName[]).map((name) => ({
            name,
            datatype: OUTPUTS[name],
            shape: name === "probabilities" ? [-1, c.labels.length] : [-1],
          })),
        };
      }),
      ModelInfer: (call: grpc.ServerUnaryCall<ModelInferRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const done = this.observe("ModelInfer");
        const cancels: (() => void)[] = [];
        call.on("cancelled", () => cancels.forEach((f) => f()));
        this.models.use((m) => this.infer(m.classifier, call.request, call.getDeadline(), cancels)).then(
          (res) => {
            done(grpc.status.OK);
            cb(null, res);
          },
          (err) => {
            cancels.forEach((f) => f());
            const s = statusFor(err);
            if (s.code === grpc.status.INTERNAL) this.log.error({ err }, "ModelInfer failed");
            done(s.code);
            cb(s);
          },
        );
      },
    };
  }

  private async infer(c: Classifier, req: ModelInferRequest, deadline: grpc.Deadline, cancels: (() => void)[]): Promise<unknown> {
    c.checkModel(req.model_name || "?", req.model_version);
    const opts = this.options(c, req.parameters, deadline);
    const inputs = await this.inputs(c, req);
    const subs = inputs.map((x) => c.submit(x, opts));
    subs.forEach((s) => cancels.push(s.cancel));
    const results = await Promise.all(subs.map((s) => s.result));
    const wanted = req.outputs.length ? req.outputs.map((o) => o.name) : (Object.keys(OUTPUTS) as string[]);
    for (const name of wanted) {
      if (!(name in OUTPUTS)) throw invalidArgument(`outputs.name`, `one of ${Object.keys(OUTPUTS).join(", ")}`, `'${name}'`);
    }
    const n = results.length;
    return {
      model_name: c.name,
      model_version: c.version,
      id: req.id,
      parameters: {},
      outputs: wanted.map((name) => ({
        name,
        datatype: OUTPUTS[name as OutputName],
        shape: name === "probabilities" ? [n, c.labels.length] : [n],
      })),
      raw_output_contents: wanted.map((name) => this.encode(c, name as OutputName, results)),
    };
  }

  private options(c: Classifier, params: Record<string, InferParameter>, deadline: grpc.Deadline): RequestOptions {
    const num = (key: string): number | undefined => {
      const p = params[key];
      if (!p) return undefined;
      const v = p.int64_param ?? p.uint64_param ?? p.double_param ?? (p.string_param !== undefined ? Number(p.string_param) : undefined);
      if (v === undefined || !Number.isFinite(v) || v < 0 || !Number.isInteger(v)) {
        throw invalidArgument(`parameters.${key}`, "a non-negative integer (int64_param)", JSON.stringify(p));
      }
      return v;
    };
    for (const key of Object.keys(params)) {
      if (!PARAMS.includes(key)) throw invalidArgument("parameters", `only ${PARAMS.join(", ")}`, `'${key}'`);
    }
    const exits = c.exitFlops.length;
    const exit = num("exit");
    if (exit !== undefined && exit > exits) throw invalidArgument("parameters.exit", `0 (adaptive) or 1 to ${exits}`, String(exit));
    const budget = num("flops_budget");
    const anytime = params.anytime;
    if (anytime && anytime.bool_param === undefined) throw invalidArgument("parameters.anytime", "a bool_param", JSON.stringify(anytime));
    return {
      flopsBudget: budget || undefined,
      fixedExit: exit ? exit - 1 : undefined,
      anytime: anytime?.bool_param ?? false,
      deadlineMs: c.deadlineFrom(deadline instanceof Date ? deadline : Number(deadline)),
    };
  }

  /** One preprocessed tensor per sample of the (single) input. */
  private async inputs(c: Classifier, req: ModelInferRequest): Promise<Float32Array[]> {
    const spec = c.input;
    if (req.inputs.length !== 1) throw invalidArgument("inputs", `exactly one input named '${spec.name}'`, `${req.inputs.length} inputs`);
    const input = req.inputs[0]!;
    if (input.name !== spec.name) throw invalidArgument("inputs[0].name", `'${spec.name}'`, `'${input.name}'`);
    const raw = req.raw_input_contents;
    if (raw.length > 1) throw invalidArgument("raw_input_contents", "one entry (one input)", `${raw.length}`);
    if (input.datatype === "BYTES") {
      const images = raw.length ? splitBytes(raw[0]!) : (input.contents?.bytes_contents ?? []);
      if (input.shape.length !== 1 || input.shape[0] !== images.length || images.length === 0) {
        throw invalidArgument("inputs[0].shape", `[N] with N = number of encoded images (${images.length})`, `[${input.shape.join(",")}]`);
      }
      return Promise.all(images.map((img, i) => c.prepare({ image: img }, `inputs[0][${i}]`)));
    }
    if (input.datatype !== "FP32") throw invalidArgument("inputs[0].datatype", "FP32 (preprocessed tensor) or BYTES (encoded images)", `'${input.datatype}'`);
    const dims = input.shape.length === spec.shape.length ? [1, ...input.shape] : input.shape;
    if (dims.length !== spec.shape.length + 1 || dims.slice(1).some((d, i) => d !== spec.shape[i]) || !(dims[0]! >= 1)) {
      throw invalidArgument("inputs[0].shape", `[N,${spec.shape.join(",")}] with N >= 1`, `[${input.shape.join(",")}]`);
    }
    const n = dims[0]!;
    const per = spec.shape.reduce((a, b) => a * b, 1);
    let all: Float32Array;
    if (raw.length === 1) {
      if (raw[0]!.byteLength !== n * per * 4) {
        throw invalidArgument("raw_input_contents[0]", `${n * per * 4} bytes (FP32 [${dims.join(",")}])`, `${raw[0]!.byteLength} bytes`);
      }
      const b = raw[0]!;
      all = new Float32Array(n * per);
      for (let i = 0; i < all.length; i++) all[i] = b.readFloatLE(i * 4);
    } else {
      const v = input.contents?.fp32_contents ?? [];
      if (v.length !== n * per) throw invalidArgument("inputs[0].contents.fp32_contents", `${n * per} values`, `${v.length}`);
      all = Float32Array.from(v);
    }
    for (let i = 0; i < all.length; i++) {
      if (!Number.isFinite(all[i]!)) throw invalidArgument("inputs[0]", "finite FP32 values", `${all[i]} at index ${i}`);
    }
    return Array.from({ length: n }, (_, i) => all.slice(i * per, (i + 1) * per));
  }

  private encode(c: Classifier, name: OutputName, rs: ClassifyResult[]): Buffer {
    const labels = c.labels;
    switch (name) {
      case "class":
      case "flops": {
        const b = Buffer.alloc(rs.length * 8);
        rs.forEach((r, i) => b.writeBigInt64LE(BigInt(name === "class" ? r.classIndex : r.flops), i * 8));
        return b;
      }
      case "exit": {
        const b = Buffer.alloc(rs.length * 4);
        rs.forEach((r, i) => b.writeInt32LE(r.exit + 1, i * 4));
        return b;
      }
      case "confidence": {
        const b = Buffer.alloc(rs.length * 4);
        rs.forEach((r, i) => b.writeFloatLE(r.confidence, i * 4));
        return b;
      }
      case "probabilities": {
        const k = labels.length;
        const b = Buffer.alloc(rs.length * k * 4);
        rs.forEach((r, i) => r.probabilities.forEach((p, j) => b.writeFloatLE(p, (i * k + j) * 4)));
        return b;
      }
      case "label":
        return Buffer.concat(
          rs.flatMap((r) => {
            const s = Buffer.from(labels[r.classIndex]!, "utf8");
            const len = Buffer.alloc(4);
            len.writeUInt32LE(s.length);
            return [len, s];
          }),
        );
    }
  }
}

/** Triton's raw BYTES layout: each element is a 4-byte little-endian length then the bytes. */
function splitBytes(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 4 > b.length) throw invalidArgument("raw_input_contents[0]", "BYTES elements, each a 4-byte little-endian length then the bytes", `${b.length - off} trailing bytes`);
    const len = b.readUInt32LE(off);
    off += 4;
    if (off + len > b.length) {
      throw invalidArgument("raw_input_contents[0]", "BYTES elements, each a 4-byte little-endian length then the bytes", `an element of ${len} bytes with ${b.length - off} left`);
    }
    out.push(b.subarray(off, off + len));
    off += len;
  }
  return out;
}
