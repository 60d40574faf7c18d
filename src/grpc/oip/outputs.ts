import { echo, invalidArgument } from "../../core/errors.js";
import type { ClassifyResult } from "../../pipeline/Pipeline.js";
import { type InferParameter, integerParam } from "./parameters.js";

/** Outputs of ModelInfer and their datatypes; one value per sample except `probabilities` ([N, classes]). */
export const OUTPUTS = {
  class: "INT64",
  label: "BYTES",
  confidence: "FP32",
  exit: "INT32",
  flops: "INT64",
  probabilities: "FP32",
} as const;
export type OutputName = keyof typeof OUTPUTS;

/** An output a request asked for; `classification` = Triton's classification extension (top-k as strings). */
export interface WantedOutput {
  name: OutputName;
  classification?: number;
}

/** The outputs a request asks for (all of them when it names none), validated. */
export function wantedOutputs(outputs: { name: string; parameters?: Record<string, InferParameter> }[]): WantedOutput[] {
  if (outputs.length === 0) return (Object.keys(OUTPUTS) as OutputName[]).map((name) => ({ name }));
  return outputs.map((o, i) => {
    if (!(o.name in OUTPUTS)) throw invalidArgument(`outputs[${i}].name`, `one of ${Object.keys(OUTPUTS).join(", ")}`, echo(o.name));
    const params = o.parameters ?? {};
    for (const key of Object.keys(params)) {
      if (key !== "classification") throw invalidArgument(`outputs[${i}].parameters`, "only classification", echo(key));
    }
    if (!params.classification) return { name: o.name as OutputName };
    if (o.name !== "probabilities") throw invalidArgument(`outputs[${i}].parameters.classification`, "on the 'probabilities' output", echo(o.name));
    const count = integerParam(params.classification, `outputs[${i}].parameters.classification`);
    if (count < 1) throw invalidArgument(`outputs[${i}].parameters.classification`, "a class count of at least 1", String(count));
    return { name: "probabilities", classification: count };
  });
}

/** Output tensor metadata and raw little-endian contents of one wanted output over all samples. */
export function encodeOutput(
  o: WantedOutput,
  rs: ClassifyResult[],
  labels: readonly string[],
): { tensor: { name: string; datatype: string; shape: number[] }; raw: Buffer } {
  const n = rs.length;
  if (o.classification !== undefined) {
    // Triton's classification extension: BYTES [N, k], "<value>:<index>:<label>", most probable first
    const k = Math.min(o.classification, labels.length);
    const strings = rs.flatMap((r) => {
      const order = Array.from(r.probabilities.keys()).sort((a, b) => r.probabilities[b]! - r.probabilities[a]!);
      return order.slice(0, k).map((j) => `${r.probabilities[j]!.toFixed(6)}:${j}:${labels[j]}`);
    });
    return { tensor: { name: o.name, datatype: "BYTES", shape: [n, k] }, raw: bytesTensor(strings) };
  }
  const tensor = { name: o.name, datatype: OUTPUTS[o.name], shape: o.name === "probabilities" ? [n, labels.length] : [n] };
  switch (o.name) {
    case "class":
    case "flops": {
      const b = Buffer.alloc(n * 8);
      rs.forEach((r, i) => {
        b.writeBigInt64LE(BigInt(o.name === "class" ? r.classIndex : r.flops), i * 8);
      });
      return { tensor, raw: b };
    }
    case "exit": {
      const b = Buffer.alloc(n * 4);
      rs.forEach((r, i) => {
        b.writeInt32LE(r.exit + 1, i * 4);
      });
      return { tensor, raw: b };
    }
    case "confidence": {
      const b = Buffer.alloc(n * 4);
      rs.forEach((r, i) => {
        b.writeFloatLE(r.confidence, i * 4);
      });
      return { tensor, raw: b };
    }
    case "probabilities": {
      const k = labels.length;
      const b = Buffer.alloc(n * k * 4);
      rs.forEach((r, i) => {
        r.probabilities.forEach((p, j) => {
          b.writeFloatLE(p, (i * k + j) * 4);
        });
      });
      return { tensor, raw: b };
    }
    case "label":
      return { tensor, raw: bytesTensor(rs.map((r) => labels[r.classIndex]!)) };
  }
}

/**
 * exit, flops and exit_reason as response parameters, for clients that read parameters and not
 * outputs: numbers for one sample, comma-separated per-sample strings for several.
 */
export function responseParameters(rs: ClassifyResult[]): Record<string, InferParameter> {
  if (rs.length === 1) {
    const r = rs[0]!;
    return { exit: { int64_param: r.exit + 1 }, flops: { int64_param: r.flops }, exit_reason: { string_param: r.reason } };
  }
  return {
    exit: { string_param: rs.map((r) => r.exit + 1).join(",") },
    flops: { string_param: rs.map((r) => r.flops).join(",") },
    exit_reason: { string_param: rs.map((r) => r.reason).join(",") },
  };
}

/** Triton's raw BYTES layout: each element a 4-byte little-endian length, then its UTF-8 bytes. */
function bytesTensor(strings: string[]): Buffer {
  return Buffer.concat(
    strings.flatMap((s) => {
      const b = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}
