import { echo, invalidArgument } from "../core/errors.js";
import { float32le } from "../core/float32le.js";
import type { _inference_ModelInferRequest_InferInputTensor__Output, ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { Classifier, FieldInput } from "../pipeline/Classifier.js";

type InferInput = _inference_ModelInferRequest_InferInputTensor__Output;

/** The input part of a decoded ModelInferRequest. */
export type InferInputs = Pick<ModelInferRequest__Output, "inputs" | "raw_input_contents">;

/** The name of the encoded-images input beside the tensor input (`image` -> `image_bytes`). */
export const bytesInputName = (tensorInput: string) => `${tensorInput}_bytes`;

/**
 * One input per sample of a ModelInfer request's single input: `image` as FP32 (normalised as
 * ModelConfig's parameters say) or UINT8 pixels (the server normalises: [N,C,H,W], [N,H,W,C],
 * or [N,H,W] for one channel), or `image_bytes` as BYTES encoded images (`image` with BYTES, the
 * old spelling, is still accepted).
 */
export function sampleInputs(c: Classifier, req: InferInputs): FieldInput[] {
  const spec = c.input;
  const bytesName = bytesInputName(spec.name);
  const forms = `'${spec.name}' (FP32 or UINT8) or '${bytesName}' (BYTES)`;
  if (req.inputs.length !== 1) throw invalidArgument("inputs", `exactly one input: ${forms}`, `${req.inputs.length} inputs`);
  const input = req.inputs[0]!;
  if (input.name !== spec.name && input.name !== bytesName) throw invalidArgument("inputs[0].name", forms, echo(input.name));
  const raw = req.raw_input_contents;
  if (raw.length > 1) throw invalidArgument("raw_input_contents", "one entry (one input)", `${raw.length}`);
  if (input.datatype === "BYTES") return encodedImages(input, raw[0]);
  if (input.name === bytesName) throw invalidArgument("inputs[0].datatype", `BYTES for '${bytesName}'`, echo(input.datatype));
  if (input.datatype === "UINT8") return pixelInputs(c, input, raw[0]);
  if (input.datatype !== "FP32") {
    throw invalidArgument("inputs[0].datatype", "FP32 (normalised tensor), UINT8 (pixels) or BYTES (encoded images)", echo(input.datatype));
  }
  const per = spec.shape.reduce((a, b) => a * b, 1);
  const dims = input.shape.length === spec.shape.length ? [1, ...input.shape] : input.shape;
  if (dims.length !== spec.shape.length + 1 || dims.slice(1).some((d, i) => d !== spec.shape[i]) || !(dims[0]! >= 1)) {
    throw invalidArgument("inputs[0].shape", `[N,${spec.shape.join(",")}] with N >= 1`, `[${input.shape.join(",")}]`);
  }
  const n = dims[0]!;
  let all: Float32Array;
  if (raw[0]) {
    if (raw[0].byteLength !== n * per * 4)
      throw invalidArgument("raw_input_contents[0]", `${n * per * 4} bytes (FP32 [${dims.join(",")}])`, `${raw[0].byteLength} bytes`);
    all = float32le(raw[0], n * per);
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

function encodedImages(input: InferInput, raw: Buffer | undefined): FieldInput[] {
  const images = raw ? splitBytes(raw) : (input.contents?.bytes_contents ?? []);
  if (input.shape.length !== 1 || input.shape[0] !== images.length || images.length === 0) {
    throw invalidArgument("inputs[0].shape", `[N] with N = number of encoded images (${images.length})`, `[${input.shape.join(",")}]`);
  }
  return images.map((image, i) => ({ input: { image }, field: `inputs[0][${i}]` }));
}

/** UINT8 pixels in the layouts people have: [N,C,H,W], [N,H,W,C], or [N,H,W] for a one-channel model. */
function pixelInputs(c: Classifier, input: InferInput, raw: Buffer | undefined): FieldInput[] {
  const [ch, h, w] = c.input.shape as [number, number, number];
  const s = input.shape;
  const layouts = `[N,${ch},${h},${w}], [N,${h},${w},${ch}]${ch === 1 ? `, or [N,${h},${w}]` : ""} with N >= 1`;
  let layout: "chw" | "hwc";
  if (s.length === 4 && s[1] === ch && s[2] === h && s[3] === w) layout = "chw";
  else if (s.length === 4 && s[1] === h && s[2] === w && s[3] === ch) layout = "hwc";
  else if (s.length === 3 && ch === 1 && s[1] === h && s[2] === w) layout = "chw";
  else throw invalidArgument("inputs[0].shape", `UINT8 pixels ${layouts}`, `[${s.join(",")}]`);
  const n = s[0]!;
  if (!(n >= 1)) throw invalidArgument("inputs[0].shape", `UINT8 pixels ${layouts}`, `[${s.join(",")}]`);
  const per = ch * h * w;
  let pixels: Uint8Array;
  if (raw) {
    if (raw.byteLength !== n * per) throw invalidArgument("raw_input_contents[0]", `${n * per} bytes (UINT8 [${s.join(",")}])`, `${raw.byteLength} bytes`);
    pixels = raw;
  } else {
    const v = input.contents?.uint_contents ?? [];
    if (v.length !== n * per) throw invalidArgument("inputs[0].contents.uint_contents", `${n * per} values`, `${v.length}`);
    const bad = v.findIndex((x) => !(x >= 0 && x <= 255));
    if (bad >= 0) throw invalidArgument("inputs[0].contents.uint_contents", "values from 0 to 255", `${v[bad]} at index ${bad}`);
    pixels = Uint8Array.from(v);
  }
  return Array.from({ length: n }, (_, i) => ({ input: { pixels: { data: pixels.subarray(i * per, (i + 1) * per), layout } }, field: `inputs[0][${i}]` }));
}

/** Triton's raw BYTES layout: each element is a 4-byte little-endian length then the bytes. */
export function splitBytes(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const expected = "BYTES elements, each a 4-byte little-endian length then the bytes";
  let off = 0;
  while (off < b.length) {
    if (off + 4 > b.length) throw invalidArgument("raw_input_contents[0]", expected, `${b.length - off} trailing bytes`);
    const len = b.readUInt32LE(off);
    off += 4;
    if (off + len > b.length) throw invalidArgument("raw_input_contents[0]", expected, `an element of ${len} bytes with ${b.length - off} left`);
    out.push(b.subarray(off, off + len));
    off += len;
  }
  return out;
}
