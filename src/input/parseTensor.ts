import { invalidArgument } from "../core/errors.js";
import { float32le } from "../core/float32le.js";

export interface TensorInput {
  shape: readonly number[];
  /** float32 little-endian bytes, or */
  data?: Uint8Array;
  /** float values */
  values?: ArrayLike<number>;
}

/**
 * Validates a raw tensor against the model input [C,H,W] (a leading batch axis of 1 is
 * accepted) and returns its float32 values. `field` names the request field in errors.
 */
export function parseTensor(t: TensorInput, expected: readonly number[], field: string): Float32Array {
  const shape = t.shape.length === expected.length + 1 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape;
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw invalidArgument(`${field}.shape`, `[${expected.join(",")}] or [1,${expected.join(",")}]`, `[${t.shape.join(",")}]`);
  }
  const n = expected.reduce((a, b) => a * b, 1);
  let out: Float32Array;
  if (t.data && t.data.byteLength > 0) {
    if (t.values && t.values.length > 0) throw invalidArgument(field, "either data or values, not both");
    if (t.data.byteLength !== n * 4) {
      throw invalidArgument(`${field}.data`, `${n * 4} bytes (${n} float32 values)`, `${t.data.byteLength} bytes`);
    }
    out = float32le(t.data, n);
  } else if (t.values && t.values.length > 0) {
    if (t.values.length !== n) throw invalidArgument(`${field}.values`, `${n} values`, `${t.values.length}`);
    out = Float32Array.from(t.values);
  } else {
    throw invalidArgument(field, `${n} float32 values in data or values`, "none");
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw invalidArgument(field, "finite float32 values", `${out[i]} at index ${i}`);
    }
  }
  return out;
}
