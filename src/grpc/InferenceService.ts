import type * as grpc from "@grpc/grpc-js";
import { echo, invalidArgument, oneofMember } from "../core/errors.js";
import { float32le } from "../core/float32le.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelSource } from "../model/ModelHost.js";
import type { Classifier, FieldInput } from "../pipeline/Classifier.js";
import type { ClassifyResult, RequestOptions } from "../pipeline/Pipeline.js";
import type { CallContext, CallEnvelope } from "./CallEnvelope.js";

const PARAMETER_KINDS = ["bool_param", "int64_param", "string_param", "double_param", "uint64_param"] as const;
type InferParameter = Partial<Record<(typeof PARAMETER_KINDS)[number], unknown>>;

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
    private readonly envelope: CallEnvelope,
    private readonly serverVersion: string,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    return {
      ServerLive: unary("ServerLive", () => ({ live: true })),
      ServerReady: unary("ServerReady", () => ({ ready: this.ready() })),
      ModelReady: unary("ModelReady", (req: { name: string; version: string }) => {
        this.models.current.classifier.checkModel(req.name || "?", req.version);
        return { ready: this.ready() };
      }),
      ServerMetadata: unary("ServerMetadata", () => ({ name: "ranet-serving", version: this.serverVersion, extensions: ["parameters"] })),
      ModelMetadata: unary("ModelMetadata", (req: { name: string; version: string }) => {
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
      ModelInfer: unary("ModelInfer", (req: ModelInferRequest, ctx: CallContext) => this.models.use((m) => this.infer(m.classifier, req, ctx)), true),
    };
  }

  private async infer(c: Classifier, req: ModelInferRequest, ctx: CallContext): Promise<unknown> {
    c.checkModel(req.model_name || "?", req.model_version);
    const opts = this.options(c, req.parameters, ctx.deadlineMs);
    const wanted = req.outputs.length ? req.outputs.map((o) => o.name) : (Object.keys(OUTPUTS) as string[]);
    for (const name of wanted) {
      if (!(name in OUTPUTS)) throw invalidArgument(`outputs.name`, `one of ${Object.keys(OUTPUTS).join(", ")}`, echo(name));
    }
    const results = await c.serve(this.inputs(c, req), opts, ctx.signal);
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

  private options(c: Classifier, params: Record<string, InferParameter>, deadlineMs: number): RequestOptions {
    for (const key of Object.keys(params)) {
      if (!PARAMS.includes(key)) throw invalidArgument("parameters", `only ${PARAMS.join(", ")}`, echo(key));
    }
    return c.options(
      {
        exit: params.exit ? integerParam(params.exit, "parameters.exit") : 0,
        flopsBudget: params.flops_budget ? integerParam(params.flops_budget, "parameters.flops_budget") : 0,
        anytime: params.anytime ? boolParam(params.anytime, "parameters.anytime") : false,
        returnAllExits: false,
      },
      deadlineMs,
      { exit: "parameters.exit", flopsBudget: "parameters.flops_budget" },
    );
  }

  /** One input per sample of the (single) request input, with the field that carried it. */
  private inputs(c: Classifier, req: ModelInferRequest): FieldInput[] {
    const spec = c.input;
    if (req.inputs.length !== 1) throw invalidArgument("inputs", `exactly one input named '${spec.name}'`, `${req.inputs.length} inputs`);
    const input = req.inputs[0]!;
    if (input.name !== spec.name) throw invalidArgument("inputs[0].name", `'${spec.name}'`, echo(input.name));
    const raw = req.raw_input_contents;
    if (raw.length > 1) throw invalidArgument("raw_input_contents", "one entry (one input)", `${raw.length}`);
    if (input.datatype === "BYTES") {
      const images = raw.length ? splitBytes(raw[0]!) : (input.contents?.bytes_contents ?? []);
      if (input.shape.length !== 1 || input.shape[0] !== images.length || images.length === 0) {
        throw invalidArgument("inputs[0].shape", `[N] with N = number of encoded images (${images.length})`, `[${input.shape.join(",")}]`);
      }
      return images.map((image, i) => ({ input: { image }, field: `inputs[0][${i}]` }));
    }
    if (input.datatype !== "FP32") throw invalidArgument("inputs[0].datatype", "FP32 (preprocessed tensor) or BYTES (encoded images)", echo(input.datatype));
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
      all = float32le(raw[0]!, n * per);
    } else {
      const v = input.contents?.fp32_contents ?? [];
      if (v.length !== n * per) throw invalidArgument("inputs[0].contents.fp32_contents", `${n * per} values`, `${v.length}`);
      all = Float32Array.from(v);
    }
    // each sample goes through the same tensor validation as Classify's (shape, finite values)
    return Array.from({ length: n }, (_, i) => ({
      input: { tensor: { shape: spec.shape, values: all.subarray(i * per, (i + 1) * per) } },
      field: `inputs[0][${i}]`,
    }));
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

/** A non-negative integer parameter: int64_param, uint64_param, an integral double_param, or decimal digits in string_param. */
export function integerParam(p: InferParameter, field: string): number {
  const kind = oneofMember(p, PARAMETER_KINDS, field);
  const v = p[kind as keyof InferParameter];
  const expected = "a non-negative integer (int64_param, or decimal digits in string_param)";
  if (kind === "string_param") {
    const s = String(v);
    if (!/^[0-9]{1,15}$/.test(s)) throw invalidArgument(field, expected, `string_param ${echo(s)}`);
    return Number(s);
  }
  if (kind === "int64_param" || kind === "uint64_param" || kind === "double_param") {
    const n = Number(v);
    if (Number.isSafeInteger(n) && n >= 0) return n;
    throw invalidArgument(field, expected, `${kind} ${n}`);
  }
  throw invalidArgument(field, expected, kind ?? "no value");
}

/** A bool parameter: bool_param, or string_param "true"/"false". */
export function boolParam(p: InferParameter, field: string): boolean {
  const kind = oneofMember(p, PARAMETER_KINDS, field);
  if (kind === "bool_param") return Boolean(p.bool_param);
  if (kind === "string_param" && (p.string_param === "true" || p.string_param === "false")) return p.string_param === "true";
  throw invalidArgument(field, 'a bool_param (or string_param "true" or "false")', kind === "string_param" ? `string_param ${echo(p.string_param)}` : (kind ?? "no value"));
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
