import { echo, invalidArgument } from "../core/errors.js";
import type { InferParameter__Output } from "../generated/inference/InferParameter.js";
import type { InferTensorContents__Output } from "../generated/inference/InferTensorContents.js";
import type { ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { ModelRef } from "../oip/OipService.js";
import { object, only, typeOf } from "./jsonFields.js";

/** Deepest nesting of a tensor's `data` accepted (a tensor has a few dimensions; deeper is an attack or a mistake). */
const MAX_DATA_DEPTH = 32;

/** The contents field each OIP datatype's JSON data goes to (as the gRPC InferTensorContents). */
const CONTENTS: Record<string, { field: keyof InferTensorContents__Output; element: "number" | "integer" | "bool" | "bytes" }> = {
  BOOL: { field: "bool_contents", element: "bool" },
  INT8: { field: "int_contents", element: "integer" },
  INT16: { field: "int_contents", element: "integer" },
  INT32: { field: "int_contents", element: "integer" },
  INT64: { field: "int64_contents", element: "integer" },
  UINT8: { field: "uint_contents", element: "integer" },
  UINT16: { field: "uint_contents", element: "integer" },
  UINT32: { field: "uint_contents", element: "integer" },
  UINT64: { field: "uint64_contents", element: "integer" },
  FP32: { field: "fp32_contents", element: "number" },
  FP64: { field: "fp64_contents", element: "number" },
  BYTES: { field: "bytes_contents", element: "bytes" },
};

/** What a REST inference request asks of the response besides the OIP request: outputs in binary (Triton's binary tensor data extension). */
export interface BinaryOutputs {
  /** Request parameter binary_data_output: every output in binary. */
  all: boolean;
  /** Outputs whose parameters say binary_data: true. */
  names: Set<string>;
}

/**
 * A REST inference request (KServe v2 JSON, with Triton's binary tensor data extension when
 * `headerLength`, the Inference-Header-Content-Length header, is given) as the ModelInferRequest
 * the gRPC side decodes, so both protocols enter the same request layer. Every malformed part is
 * INVALID_ARGUMENT naming its field.
 */
export function inferRequestFromJson(
  body: Buffer,
  headerLength: string | undefined,
  model: ModelRef,
): { req: ModelInferRequest__Output; binary: BinaryOutputs } {
  let jsonEnd = body.length;
  if (headerLength !== undefined) {
    if (!/^[0-9]{1,10}$/.test(headerLength) || Number(headerLength) > body.length) {
      throw invalidArgument("Inference-Header-Content-Length", `the JSON header's length in bytes, at most the body's ${body.length}`, echo(headerLength));
    }
    jsonEnd = Number(headerLength);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body.subarray(0, jsonEnd).toString("utf8"));
  } catch (err) {
    throw invalidArgument("body", "a JSON inference request (KServe v2)", `invalid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  const o = object(doc, "body");
  only(o, ["id", "parameters", "inputs", "outputs"], "body");
  const params = parameters(o.parameters, "parameters");
  const binaryAll = params.binary_data_output;
  delete params.binary_data_output;
  const binary: BinaryOutputs = { all: binaryAll ? boolOf(binaryAll, "parameters.binary_data_output") : false, names: new Set() };
  if (o.id !== undefined && typeof o.id !== "string") throw invalidArgument("id", "a string", typeOf(o.id));
  if (!Array.isArray(o.inputs)) throw invalidArgument("inputs", "an array of input tensors", typeOf(o.inputs));
  const binarySection = body.subarray(jsonEnd);
  let offset = 0;
  const raw: Buffer[] = [];
  const inputs = o.inputs.map((x, i) => {
    const field = `inputs[${i}]`;
    const t = object(x, field);
    only(t, ["name", "shape", "datatype", "parameters", "data"], field);
    const name = stringOf(t.name, `${field}.name`);
    const datatype = stringOf(t.datatype, `${field}.datatype`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
      throw invalidArgument(`${field}.shape`, "an array of non-negative integers", echo(JSON.stringify(t.shape)));
    }
    const p = parameters(t.parameters, `${field}.parameters`);
    const size = p.binary_data_size;
    delete p.binary_data_size;
    const base64 = p.content_type?.string_param === "base64";
    if (p.content_type && !base64)
      throw invalidArgument(`${field}.parameters.content_type`, "'base64' (BYTES data as base64 strings) or none", echo(JSON.stringify(t.parameters)));
    delete p.content_type;
    if (size !== undefined) {
      const n = size.int64_param;
      if (n === undefined || n < 0) throw invalidArgument(`${field}.parameters.binary_data_size`, "a non-negative integer", echo(JSON.stringify(size)));
      if (t.data !== undefined) throw invalidArgument(`${field}.data`, "absent when binary_data_size is given (the data is in the binary part)", "data");
      if (headerLength === undefined) {
        throw invalidArgument(
          `${field}.parameters.binary_data_size`,
          "the header Inference-Header-Content-Length (the JSON part's length) with binary data",
          "no such header",
        );
      }
      if (offset + n > binarySection.length) {
        throw invalidArgument(
          `${field}.parameters.binary_data_size`,
          `at most the ${binarySection.length - offset} binary bytes left after the JSON header`,
          String(n),
        );
      }
      raw.push(binarySection.subarray(offset, offset + n));
      offset += n;
      return { name, datatype, shape: t.shape as number[], parameters: p, contents: null };
    }
    return { name, datatype, shape: t.shape as number[], parameters: p, contents: contentsOf(t.data, datatype, base64, `${field}.data`) };
  });
  if (offset !== binarySection.length) {
    throw invalidArgument("body", `${offset} bytes of binary tensor data after the JSON header (the inputs' binary_data_size)`, `${binarySection.length}`);
  }
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalidArgument("inputs", "binary_data_size on every input or on none (as raw_input_contents)", `${raw.length} of ${inputs.length}`);
  }
  if (o.outputs !== undefined && !Array.isArray(o.outputs)) throw invalidArgument("outputs", "an array of requested outputs", typeOf(o.outputs));
  const outputs = (o.outputs ?? []).map((x: unknown, i: number) => {
    const field = `outputs[${i}]`;
    const t = object(x, field);
    only(t, ["name", "parameters"], field);
    const name = stringOf(t.name, `${field}.name`);
    const p = parameters(t.parameters, `${field}.parameters`);
    if (p.binary_data) {
      if (boolOf(p.binary_data, `${field}.parameters.binary_data`)) binary.names.add(name);
      delete p.binary_data;
    }
    return { name, parameters: p };
  });
  const req: ModelInferRequest__Output = {
    model_name: model.name,
    model_version: model.version,
    id: (o.id as string | undefined) ?? "",
    parameters: params,
    inputs,
    outputs,
    raw_input_contents: raw,
  };
  return { req, binary };
}

/** A JSON parameters object as InferParameters: booleans, integers, other numbers and strings. */
export function parameters(v: unknown, field: string): Record<string, InferParameter__Output> {
  if (v === undefined) return {};
  const o = object(v, field);
  const out: Record<string, InferParameter__Output> = Object.create(null); // a key "__proto__" stays a key
  for (const [k, x] of Object.entries(o)) {
    if (typeof x === "boolean") out[k] = { bool_param: x, parameter_choice: "bool_param" };
    else if (typeof x === "string") out[k] = { string_param: x, parameter_choice: "string_param" };
    else if (typeof x === "number" && Number.isSafeInteger(x)) out[k] = { int64_param: x, parameter_choice: "int64_param" };
    else if (typeof x === "number") out[k] = { double_param: x, parameter_choice: "double_param" };
    else throw invalidArgument(`${field}.${k}`, "a boolean, number or string", typeOf(x));
  }
  return out;
}

function contentsOf(data: unknown, datatype: string, base64: boolean, field: string): InferTensorContents__Output {
  const empty: InferTensorContents__Output = {
    bool_contents: [],
    int_contents: [],
    int64_contents: [],
    uint_contents: [],
    uint64_contents: [],
    fp32_contents: [],
    fp64_contents: [],
    bytes_contents: [],
  };
  const kind = CONTENTS[datatype];
  if (!kind) return empty; // the request layer names the datatypes it takes
  if (data === undefined) throw invalidArgument(field, `the tensor's ${datatype} elements (or parameters.binary_data_size)`, "none");
  const flat: unknown[] = [];
  flatten(data, flat, field, 0);
  const bad = flat.findIndex((x) => !isElement(x, kind.element));
  if (bad >= 0) throw invalidArgument(`${field}[${bad}]`, elementWords(kind.element, datatype), typeOf(flat[bad]));
  const values =
    kind.element === "bytes" ? flat.map((x) => bytesOf(x as string | { b64: string }, base64)) : kind.element === "bool" ? flat : (flat as number[]);
  return { ...empty, [kind.field]: values };
}

function flatten(v: unknown, out: unknown[], field: string, depth: number): void {
  if (!Array.isArray(v)) {
    out.push(v);
    return;
  }
  if (depth >= MAX_DATA_DEPTH) throw invalidArgument(field, `an array nested at most ${MAX_DATA_DEPTH} deep`, "deeper");
  for (const x of v) flatten(x, out, field, depth + 1);
}

function isElement(x: unknown, e: "number" | "integer" | "bool" | "bytes"): boolean {
  if (e === "number") return typeof x === "number";
  if (e === "integer") return typeof x === "number" && Number.isSafeInteger(x);
  if (e === "bool") return typeof x === "boolean";
  return typeof x === "string" || (typeof x === "object" && x !== null && typeof (x as { b64?: unknown }).b64 === "string");
}

function elementWords(e: "number" | "integer" | "bool" | "bytes", datatype: string): string {
  if (e === "bytes") return `${datatype} elements: strings (UTF-8, or base64 with parameters.content_type 'base64') or {"b64": "..."}`;
  return `${datatype} elements: ${e === "number" ? "numbers" : e === "integer" ? "integers" : "booleans"}`;
}

function bytesOf(x: string | { b64: string }, base64: boolean): Buffer {
  if (typeof x === "string") return Buffer.from(x, base64 ? "base64" : "utf8");
  return Buffer.from(x.b64, "base64");
}

function stringOf(v: unknown, field: string): string {
  if (typeof v !== "string") throw invalidArgument(field, "a string", typeOf(v));
  return v;
}

function boolOf(p: InferParameter__Output, field: string): boolean {
  if (p.bool_param === undefined) throw invalidArgument(field, "true or false", echo(JSON.stringify(p)));
  return p.bool_param;
}
