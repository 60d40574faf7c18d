import sharp from "sharp";
import { invalidArgument, ServingError } from "../core/errors.js";
import type { InputSpec } from "./InputSpec.js";
import { normalizePixels } from "./normalizePixels.js";

const FORMATS = new Set(["png", "jpeg", "webp"]);

sharp.cache(false);

/** The first bytes of a buffer in hex, to show what was sent instead of an image. */
const firstBytes = (bytes: Uint8Array) => Buffer.from(bytes.subarray(0, 8)).toString("hex");

/**
 * Why sharp could not decode: the one problem it names (no image format at all, over the pixel
 * limit, or an image of a known format that is damaged), never the others.
 */
function decodeFailure(field: string, bytes: Uint8Array, maxPixels: number, message: string): ServingError {
  const reason = message.replace(/\s+/g, " ").slice(0, 200);
  if (/unsupported image format/i.test(reason)) {
    return invalidArgument(field, "a PNG, JPEG or WebP image", `${bytes.byteLength} bytes in no image format (they begin ${firstBytes(bytes)})`);
  }
  if (/pixel limit/i.test(reason)) return invalidArgument(field, `an image of at most ${maxPixels} pixels (maxImagePixels)`, "a larger one");
  return invalidArgument(field, "a decodable PNG, JPEG or WebP image", `a damaged or truncated one (${reason})`);
}

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
    throw decodeFailure(field, bytes, maxPixels, (err as Error).message);
  }
  return normalizePixels(pixels, spec, "hwc", channels);
}
