import { describe, expect, it } from "vitest";
import { AdmissionEstimate } from "../../src/pipeline/AdmissionEstimate.js";

describe("AdmissionEstimate", () => {
  it("estimates from batch times while the queue has not been backlogged", () => {
    const e = new AdmissionEstimate(32, 4);
    expect(e.waitMs(100)).toBe(0); // nothing measured: admission by queue size only
    e.recordBatch(40);
    // 101 requests = 4 batches of 32, four in flight at once: one batch time of 40 ms
    expect(e.waitMs(100)).toBe(40);
    expect(e.waitMs(0)).toBe(0);
    // dispatches that left nothing waiting say nothing about the drain rate
    e.recordDispatch(0, 32, 0);
    e.recordDispatch(100, 32, 0);
    expect(e.waitMs(100)).toBe(40);
  });

  it("sees a server that drains slower than its batch times say (the main thread's share), from backlogged dispatch intervals", () => {
    const e = new AdmissionEstimate(32, 4);
    e.recordBatch(40); // the engine's promise: 128 requests per 40 ms
    // but backlogged, a batch of 32 leaves only every 64 ms: 2 ms per request, then its own batch
    for (let i = 0; i <= 20; i++) e.recordDispatch(i * 64, 32, 500);
    expect(e.waitMs(99)).toBeCloseTo(240, 6);
    // a quiet gap between two dispatches, the earlier of which left the queue empty, is not a drain interval
    e.recordDispatch(21 * 64, 32, 0);
    e.recordDispatch(10_000, 32, 10);
    expect(e.waitMs(99)).toBeCloseTo(240, 6);
  });

  it("keeps the batch-time estimate when the drain is faster than it", () => {
    const e = new AdmissionEstimate(32, 1);
    e.recordBatch(40);
    for (let i = 0; i <= 20; i++) e.recordDispatch(i * 10, 32, 500);
    expect(e.waitMs(63)).toBe(80); // 2 batches of 40 ms, one at a time
  });
});
