import type { InferParameter } from "../generated/inference/InferParameter.js";
import type { ModelInferResponse } from "../generated/inference/ModelInferResponse.js";
import { splitBytes } from "../oip/inputs.js";
import type { BinaryOutputs } from "./inferRequestJson.js";

/** A REST inference response: the JSON header and, with Triton's binary tensor data extension, the binary parts after it. */
export interface RestInferResponse {
  json: Buffer;
  /** Binary output data in output order, sent after the JSON; empty when every output is in JSON. */
  binary: Buffer[];
}

/** The ModelInferResponse the request layer answered, as KServe v2 JSON (outputs asked in binary go after it). */
export function inferResponseToJson(res: ModelInferResponse, binary: BinaryOutputs): RestInferResponse {
  const parts: Buffer[] = [];
  const outputs = (res.outputs ?? []).map((o, i) => {
    const raw = res.raw_output_contents![i] as Buffer;
    const shape = (o.shape ?? []).map(Number);
    if (binary.all || binary.names.has(o.name!)) {
      parts.push(raw);
      return { name: o.name, datatype: o.datatype, shape, parameters: { binary_data_size: raw.length } };
    }
    return { name: o.name, datatype: o.datatype, shape, data: elementsOf(o.datatype!, raw) };
  });
  const doc = {
    model_name: res.model_name,
    model_version: res.model_version,
    ...(res.id ? { id: res.id } : {}),
    parameters: Object.fromEntries(Object.entries(res.parameters ?? {}).map(([k, p]) => [k, parameterValue(p)])),
    outputs,
  };
  return { json: Buffer.from(JSON.stringify(doc), "utf8"), binary: parts };
}

/** Raw little-endian tensor contents as JSON elements (BYTES as UTF-8 strings). */
function elementsOf(datatype: string, raw: Buffer): (number | string)[] {
  switch (datatype) {
    case "INT64":
      return Array.from({ length: raw.length / 8 }, (_, i) => Number(raw.readBigInt64LE(i * 8)));
    case "INT32":
      return Array.from({ length: raw.length / 4 }, (_, i) => raw.readInt32LE(i * 4));
    case "FP32":
      return Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
    case "BYTES":
      return splitBytes(raw).map((b) => b.toString("utf8"));
    default:
      throw new Error(`no JSON form for output datatype ${datatype}`); // a server bug: the request layer only makes the types above
  }
}

function parameterValue(p: InferParameter): boolean | number | string {
  if (p.bool_param !== undefined) return p.bool_param;
  if (p.string_param !== undefined) return p.string_param;
  return Number(p.int64_param ?? p.double_param ?? p.uint64_param ?? 0);
}
