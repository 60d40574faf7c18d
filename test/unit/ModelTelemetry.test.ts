import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/Clock.js";
import { Metrics } from "../../src/metrics/Metrics.js";
import { ModelTelemetry } from "../../src/model/ModelTelemetry.js";

describe("ModelTelemetry hooks", () => {
  const labels = { model: "a", version: "1" };

  it("record each answer, batch and queue depth in the version's series", async () => {
    const m = new Metrics();
    m.addModel(labels, [10, 20]);
    const hooks = new ModelTelemetry(m, systemClock).hooksFor(labels);
    hooks.exitTaken!(1, 20, undefined);
    hooks.exitTaken!(1, 20, "team");
    hooks.exitTaken!(0, 10, undefined);
    hooks.batchRun!(0, 8, 0.004);
    hooks.queueDepth!(1, 5);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^ranet_exits_total\{model="a",version="1",exit="2"\} 2$/m);
    expect(text).toMatch(/^ranet_exits_total\{model="a",version="1",exit="1"\} 1$/m);
    expect(text).toMatch(/^ranet_tenant_requests_total\{model="a",version="1",tenant="other"\} 2$/m);
    expect(text).toMatch(/^ranet_tenant_flops_total\{model="a",version="1",tenant="team"\} 20$/m);
    expect(text).toMatch(/^ranet_stage_batch_size_sum\{model="a",version="1",stage="1"\} 8$/m);
    expect(text).toMatch(/^ranet_queue_depth\{model="a",version="1",stage="2"\} 5$/m);
    expect(text).toMatch(/^ranet_request_flops_count\{model="a",version="1"\} 3$/m);
  });
});
