/** How a model expects its input (from the manifest). */
export interface InputSpec {
  shape: readonly [number, number, number] | readonly number[]; // [C, H, W]
  mean: readonly number[];
  std: readonly number[];
  pixelScale: number;
  colorSpace: "gray" | "rgb";
}
