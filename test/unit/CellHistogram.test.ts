import client from "prom-client";
import { describe, expect, it } from "vitest";
import { CellHistogram } from "../../src/metrics/CellHistogram.js";
import { PerModelHistogram } from "../../src/metrics/PerModelHistogram.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.7, 3, 1, 0];

/** The exposition lines of one registry, sorted (line order within a family is not part of the format's meaning). */
async function lines(registry: client.Registry): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter(Boolean).sort();
}

describe("CellHistogram", () => {
  it("exposes what a prom-client histogram given the same observations exposes", async () => {
    const theirs = new client.Registry();
    const h = new client.Histogram({ name: "x_seconds", help: "h", labelNames: ["method", "protocol"], buckets: BUCKETS, registers: [theirs] });
    const ours = new client.Registry();
    const c = new CellHistogram("x_seconds", "h", ["method", "protocol"], BUCKETS);
    ours.registerMetric(c as unknown as client.Metric);
    for (const [i, v] of VALUES.entries()) {
      const labels = { method: i % 2 ? "Classify" : "ClassifyStream", protocol: "grpc" };
      h.observe(labels, v);
      if (i % 3) c.observe(labels, v);
      else c.cell(labels).observe(v); // the same series either way
    }
    expect(await lines(ours)).toEqual(await lines(theirs));
    c.remove({ method: "Classify", protocol: "grpc" });
    h.remove({ method: "Classify", protocol: "grpc" });
    expect(await lines(ours)).toEqual(await lines(theirs));
    // reset zeroes every series and keeps it (hot paths hold their cells); prom-client drops them
    const kept = c.cell({ method: "ClassifyStream", protocol: "grpc" });
    c.reset();
    kept.observe(0.02);
    expect(await lines(ours)).toContain('x_seconds_bucket{le="0.1",method="ClassifyStream",protocol="grpc"} 1');
    expect(await lines(ours)).toContain('x_seconds_count{method="ClassifyStream",protocol="grpc"} 1');
  });

  it("PerModelHistogram: each model version's series with its own buckets, as a prom-client histogram per version with model and version labels", async () => {
    const ours = new client.Registry();
    const p = new PerModelHistogram("y_flops", "h");
    ours.registerMetric(p as unknown as client.Metric);
    const theirs = new client.Registry();
    const h = new client.Histogram({ name: "y_flops", help: "h", labelNames: ["model", "version"], buckets: [10, 20], registers: [theirs] });
    const a = { model: "a", version: "1" };
    p.add(a, [10, 20]);
    for (const v of [5, 10, 15, 20, 25]) {
      p.observe(a, v);
      h.observe(a, v);
    }
    p.observe({ model: "b", version: "1" }, 5); // not added: not counted
    expect(await lines(ours)).toEqual(await lines(theirs));
  });
});
