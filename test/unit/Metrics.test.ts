import { describe, expect, it } from "vitest";
import { Metrics } from "../../src/metrics/Metrics.js";

/** The exposition lines of the ranet_ series that carry this model label. */
async function seriesOf(m: Metrics, model: string): Promise<string[]> {
  const text = await m.registry.metrics();
  return text.split("\n").filter((l) => l.startsWith("ranet_") && l.includes(`model="${model}"`));
}

/** Touches every per-model series family once, as a served version's traffic would. */
function serve(m: Metrics, model: string, version = "1"): void {
  const labels = { model, version };
  m.addModel(labels, [1e6, 2e6]);
  m.exitsTaken.inc({ ...labels, exit: 1 });
  m.requestFlops.observe(labels, 1e6);
  m.tenantRequests.inc({ ...labels, tenant: "gold" });
  m.tenantFlops.inc({ ...labels, tenant: "other" }, 1e6);
  m.dropped.inc({ ...labels, reason: "deadline" });
  m.modelInfo.set({ ...labels, execution_provider: "cpu" }, 1);
  m.budgetTargetFlops.set({ ...labels, mode: "controller" }, 1e6);
  m.budgetRealizedFlops.set({ ...labels, mode: "controller" }, 1e6);
  m.exitThreshold.set({ ...labels, exit: 1 }, 0.9);
  m.stageBatchSize.observe({ ...labels, stage: 1 }, 4);
  m.stageDuration.observe({ ...labels, stage: 1 }, 0.001);
  m.queueDepth.set({ ...labels, stage: 1 }, 2);
  m.queueWaitEstimate.set(labels, 0.01);
}

describe("Metrics", () => {
  it("removes every series of a model version, tenant series included, and leaves other models alone", async () => {
    const m = new Metrics();
    serve(m, "a");
    serve(m, "b");
    const families = (lines: string[]) => new Set(lines.map((l) => l.replace(/[{ ].*/, "").replace(/_(bucket|sum|count)$/, "")));
    const before = families(await seriesOf(m, "a"));
    expect(before).toContain("ranet_tenant_requests_total");
    expect(before).toContain("ranet_tenant_flops_total");
    expect(before.size).toBe(13);
    await m.removeModel({ model: "a", version: "1" });
    expect(await seriesOf(m, "a")).toEqual([]);
    expect(families(await seriesOf(m, "b"))).toEqual(before);
  });

  it("keeps the series of a version served again before the removal finished (a reload of the same version)", async () => {
    const m = new Metrics();
    serve(m, "a");
    const removal = m.removeModel({ model: "a", version: "1" });
    m.addModel({ model: "a", version: "1" }, [1e6, 2e6]);
    m.modelInfo.set({ model: "a", version: "1", execution_provider: "cpu" }, 1);
    await removal;
    expect((await seriesOf(m, "a")).some((l) => l.startsWith("ranet_model_info"))).toBe(true);
  });

  it("counts what an answer adds to a counter's cells whenever the counter is read: a scrape, get()", async () => {
    const m = new Metrics();
    const labels = { model: "a", version: "1" };
    m.addModel(labels, [1e6, 2e6]);
    const exit2 = m.exitCells.cell({ ...labels, exit: 2 });
    expect(m.exitCells.cell({ ...labels, exit: 2 })).toBe(exit2);
    exit2.value += 3;
    expect(await m.registry.metrics()).toMatch(/^ranet_exits_total\{model="a",version="1",exit="2"\} 3$/m);
    exit2.value++;
    m.exitsTaken.inc({ ...labels, exit: 2 }); // a direct increment adds up with the cell's
    const values = (await m.exitsTaken.get()).values;
    expect(values.find((v) => v.labels.exit === 2)?.value).toBe(5);
    expect(await m.registry.metrics()).toMatch(/^ranet_exits_total\{model="a",version="1",exit="2"\} 5$/m);
  });

  it("a removed version's cells do not bring its series back; a count after removal does", async () => {
    const m = new Metrics();
    const labels = { model: "a", version: "1" };
    m.addModel(labels, [1e6]);
    const cell = m.tenantRequestCells.cell({ ...labels, tenant: "gold" });
    cell.value++;
    await m.removeModel(labels);
    expect(await seriesOf(m, "a")).toEqual([]);
    cell.value++;
    expect(await seriesOf(m, "a")).toEqual(['ranet_tenant_requests_total{model="a",version="1",tenant="gold"} 1']);
  });

  it("a gauge cell reaches its gauge when read, only when set since; a removed series stays removed until set again", async () => {
    const m = new Metrics();
    const labels = { model: "a", version: "1" };
    m.addModel(labels, [1e6]);
    const depth = m.queueDepthCells.cell({ ...labels, stage: 1 });
    depth.value = 7;
    depth.changed = true;
    expect(await m.registry.metrics()).toMatch(/^ranet_queue_depth\{model="a",version="1",stage="1"\} 7$/m);
    await m.removeModel(labels);
    expect(await seriesOf(m, "a")).toEqual([]);
    depth.value = 0;
    depth.changed = true;
    expect(await seriesOf(m, "a")).toEqual(['ranet_queue_depth{model="a",version="1",stage="1"} 0']);
  });
});
