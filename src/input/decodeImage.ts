import sharp from "sharp";
import { invalidArgument, ServingError } from "../core/errors.js";
import type { InputSpec } from "./InputSpec.js";
import { normalizePixels } from "./normalizePixels.js";

const FORMATS = new Set(["png", "jpeg", "webp"]);

sharp.cache(false);

/**
 * Decodes a PNG/JPEG/WebP image into the model's normalised CHW float32 input: converted to
 * the model's colour space (alpha composited on black), resized to HxW, then
 * (pixel * pixelScale - mean[c]) / std[c].
 */
export async function decodeImage(bytes: Uint8Array, spec: InputSpec, maxPixels: number, field = "image"): Promise<Float32Array> {
  const [, h, w] = spec.shape as [number, number, number];
  if (bytes.byteLength === 0) throw invalidArgument(field, "a non-empty PNG, JPEG or WebP image", "0 bytes");
  let pixels: Buffer;
  let channels: number;
  try {
    const img = sharp(bytes, { limitInputPixels: maxPixels, failOn: "error" });
    const meta = await img.metadata();
    if (!meta.format || !FORMATS.has(meta.format)) {
      throw invalidArgument(field, "a PNG, JPEG or WebP image", meta.format ?? "unknown format");
    }
    let p = img.flatten({ background: "#000000" });
    p = spec.colorSpace === "gray" ? p.grayscale() : p.toColourspace("srgb");
    const out = await p.resize(w, h, { fit: "fill" }).raw().toBuffer({ resolveWithObject: true });
    pixels = out.data;
    channels = out.info.channels;
  } catch (err) {
    if (err instanceof ServingError) throw err;
    const reason = (err as Error).message.replace(/\s+/g, " ").slice(0, 200);
    throw invalidArgument(field, `a decodable PNG, JPEG or WebP image of at most ${maxPixels} pixels`, reason);
  }
  return normalizePixels(pixels, spec, "hwc", channels);
}
