import type { InputSpec } from "./InputSpec.js";

/**
 * 8-bit pixels to the model's normalised CHW float32 input, (pixel * pixelScale - mean[c]) /
 * std[c]. `layout` "hwc": `channels` values per pixel (a model channel past them repeats the
 * last, so gray feeds an RGB model); "chw": planes in model order.
 */
export function normalizePixels(pixels: Uint8Array, spec: InputSpec, layout: "hwc" | "chw", channels = spec.shape[0]!): Float32Array {
  const [c, h, w] = spec.shape as [number, number, number];
  const plane = h * w;
  const out = new Float32Array(c * plane);
  for (let ch = 0; ch < c; ch++) {
    const scale = spec.pixelScale / spec.std[ch]!;
    const shift = spec.mean[ch]! / spec.std[ch]!;
    const src = Math.min(ch, channels - 1);
    for (let i = 0; i < plane; i++) {
      const v = layout === "hwc" ? pixels[i * channels + src]! : pixels[src * plane + i]!;
      out[ch * plane + i] = v * scale - shift;
    }
  }
  return out;
}
