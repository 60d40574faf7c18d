import { echo, invalidArgument } from "../core/errors.js";
import type { ClassifyResult } from "../pipeline/Pipeline.js";
import { topIndices } from "../scoring/softmax.js";
import { boolParam, type InferParameter, integerParam } from "./parameters.js";

/**
 * Outputs of ModelInfer and their datatypes; one value per sample except `probabilities`
 * ([N, classes]) and the per-exit outputs ([N, exits], -1 at an exit the sample did not run).
 */
export const OUTPUTS = {
  class: "INT64",
  label: "BYTES",
  confidence: "FP32",
  exit: "INT32",
  flops: "INT64",
  probabilities: "FP32",
  exit_classes: "INT64",
  exit_confidences: "FP32",
} as const;
export type OutputName = keyof typeof OUTPUTS;

/** The per-exit outputs: sent when named, or with the request parameter return_all_exits, never by default. */
export const PER_EXIT_OUTPUTS: readonly OutputName[] = ["exit_classes", "exit_confidences"];

/** An output a request asked for; `classification` = Triton's classification extension (top-k as strings). */
export interface WantedOutput {
  name: OutputName;
  classification?: number;
}

/**
 * The outputs a request asks for, validated: those it names, else every output but the per-exit
 * ones, which come with them when the request parameter return_all_exits is true.
 */
export function wantedOutputs(
  outputs: { name: string; parameters?: Record<string, InferParameter> }[],
  params: Record<string, InferParameter> = {},
): WantedOutput[] {
  if (outputs.length === 0) {
    const allExits = params.return_all_exits ? boolParam(params.return_all_exits, "parameters.return_all_exits") : false;
    return (Object.keys(OUTPUTS) as OutputName[]).filter((name) => allExits || !PER_EXIT_OUTPUTS.includes(name)).map((name) => ({ name }));
  }
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
  exits: number,
): { tensor: { name: string; datatype: string; shape: number[] }; raw: Buffer } {
  const n = rs.length;
  if (o.classification !== undefined) {
    // Triton's classification extension: BYTES [N, k], "<value>:<index>:<label>", most probable first
    const k = Math.min(o.classification, labels.length);
    const strings = rs.flatMap((r) => topIndices(r.probabilities, k).map((j) => `${r.probabilities[j]!.toFixed(6)}:${j}:${labels[j]}`));
    return { tensor: { name: o.name, datatype: "BYTES", shape: [n, k] }, raw: bytesTensor(strings) };
  }
  const shape = o.name === "probabilities" ? [n, labels.length] : PER_EXIT_OUTPUTS.includes(o.name) ? [n, exits] : [n];
  const tensor = { name: o.name, datatype: OUTPUTS[o.name], shape };
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
    case "exit_classes":
    case "exit_confidences": {
      const width = o.name === "exit_classes" ? 8 : 4;
      const b = Buffer.alloc(n * exits * width);
      for (let i = 0; i < n * exits; i++) {
        if (width === 8) b.writeBigInt64LE(-1n, i * 8);
        else b.writeFloatLE(-1, i * 4);
      }
      rs.forEach((r, i) => {
        for (const e of r.exits) {
          if (width === 8) b.writeBigInt64LE(BigInt(e.classIndex), (i * exits + e.exit) * 8);
          else b.writeFloatLE(e.confidence, (i * exits + e.exit) * 4);
        }
      });
      return { tensor, raw: b };
    }
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
