import { readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";

export const FMNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Reads an unsigned-byte IDX file (gzipped or not): dims and the raw bytes. */
export function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  let raw = readFileSync(file);
  if (file.endsWith(".gz")) raw = gunzipSync(raw);
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0 || raw[2] !== 0x08) throw new Error(`${file}: not an unsigned-byte IDX file`);
  const ndim = raw[3]!;
  const dims = Array.from({ length: ndim }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  const data = new Uint8Array(raw.buffer, raw.byteOffset + 4 + 4 * ndim, raw.length - 4 - 4 * ndim);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${file}: size does not match dims ${dims}`);
  return { dims, data };
}

export interface ImageSet {
  count: number;
  side: number;
  /** image i: pixels.subarray(i*side*side, (i+1)*side*side) */
  pixels: Uint8Array;
  labels: Uint8Array;
}

/** The Fashion-MNIST test split (10,000 images), or the training split. */
export function loadFashionMnist(split: "test" | "train" = "test", dir = FMNIST_DIR): ImageSet {
  const stem = split === "test" ? "t10k" : "train";
  const images = readIdx(path.join(dir, `${stem}-images-idx3-ubyte.gz`));
  const labels = readIdx(path.join(dir, `${stem}-labels-idx1-ubyte.gz`));
  return { count: images.dims[0]!, side: images.dims[1]!, pixels: images.data, labels: labels.data };
}

/** Normalises one image as the manifest's input spec says (gray, CHW). */
export function normalise(pixels: Uint8Array, spec: { pixelScale: number; mean: readonly number[]; std: readonly number[] }): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i]! * spec.pixelScale - spec.mean[0]!) / spec.std[0]!;
  return out;
}

/** The first `count` images, preprocessed as `spec` says, as float32 little-endian bytes (tensor inputs). */
export function tensorBytesOf(set: ImageSet, count: number, spec: { pixelScale: number; mean: readonly number[]; std: readonly number[] }): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(normalise(imageOf(set, i), spec).buffer));
}

export function imageOf(set: ImageSet, i: number): Uint8Array {
  const n = set.side * set.side;
  return set.pixels.subarray(i * n, (i + 1) * n);
}
