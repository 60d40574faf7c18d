import { describe, expect, it } from "vitest";
import { normalizePixels } from "../../src/input/normalizePixels.js";
import { InferenceStatistics } from "../../src/pipeline/InferenceStatistics.js";

describe("InferenceStatistics", () => {
  it("accumulates requests, samples, failures and first-stage batches in nanoseconds", () => {
    let now = 1000;
    const s = new InferenceStatistics(() => now);
    s.succeeded(2.5, 4, 1, 1.5);
    now = 2000;
    s.succeeded(1, 1, 0.25, 0.5);
    s.failed(0.1);
    s.batchRan(4, 0.002);
    s.batchRan(1, 0.001);
    s.batchRan(4, 0.003);
    const snap = s.snapshot();
    expect(snap).toMatchObject({
      lastInferenceMs: 2000,
      inferenceCount: 5,
      executionCount: 3,
      success: { count: 2, ns: 3_500_000 },
      fail: { count: 1, ns: 100_000 },
      queue: { count: 2, ns: 1_250_000 },
      computeInfer: { count: 2, ns: 2_000_000 },
    });
    expect([...snap.batches]).toEqual([
      [1, { count: 1, ns: 1_000_000 }],
      [4, { count: 2, ns: 5_000_000 }],
    ]);
  });
});

describe("normalizePixels", () => {
  const spec = { shape: [2, 1, 2], mean: [0.5, 0.25], std: [0.5, 0.25], pixelScale: 1 / 255, colorSpace: "rgb" as const };
  it("reads HWC and CHW layouts into normalised CHW", () => {
    const chw = normalizePixels(Uint8Array.from([0, 255, 51, 102]), spec, "chw");
    const hwc = normalizePixels(Uint8Array.from([0, 51, 255, 102]), spec, "hwc");
    expect(Array.from(chw)).toEqual(Array.from(hwc));
    expect(chw[0]).toBeCloseTo(-1, 6); // (0 - 0.5) / 0.5
    expect(chw[1]).toBeCloseTo(1, 6); // (1 - 0.5) / 0.5
    expect(chw[2]).toBeCloseTo((0.2 - 0.25) / 0.25, 6);
  });
  it("repeats a gray channel for an RGB model", () => {
    const out = normalizePixels(Uint8Array.from([255, 0]), spec, "hwc", 1);
    expect(out[0]).toBeCloseTo(1, 6);
    expect(out[2]).toBeCloseTo(3, 6); // (1 - 0.25) / 0.25
  });
});
