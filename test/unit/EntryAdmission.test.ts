import { describe, expect, it } from "vitest";
import { EntryAdmission, type EntryQueue, HIGHER_LEVEL_RECENT_MS } from "../../src/pipeline/EntryAdmission.js";

const emptyQueue: EntryQueue = { depth: 0, depthUpTo: () => 0, depthAt: () => 0, depthOfGroup: () => 0 };

function admission(y?: { maxUtilization: number }) {
  const state = { nowMs: 0, utilization: 0 };
  const a = new EntryAdmission(
    [0],
    {
      maxBatchSize: 8,
      parallelBatches: 2,
      maxQueueSize: 100,
      maxQueueWaitMs: 0,
      yieldToHigherLevels: y && { maxUtilization: y.maxUtilization, utilization: () => state.utilization, nowMs: () => state.nowMs },
    },
    () => emptyQueue,
    () => "stage 1",
  );
  return { a, state };
}

describe("EntryAdmission: lower levels yield to higher ones", () => {
  it("refuses a lower level while the event loop is over the limit and a higher level arrived within the last second", () => {
    const { a, state } = admission({ maxUtilization: 0.6 });
    state.utilization = 0.9;
    expect(a.refusal(0, { priority: 2 })).toBeUndefined(); // no higher level seen yet
    expect(a.refusal(0, { priority: 1 })).toBeUndefined(); // level 1 never yields
    state.nowMs = HIGHER_LEVEL_RECENT_MS - 1;
    const refused = a.refusal(0, { priority: 2 });
    expect(refused).toMatchObject({ kind: "resource_exhausted" });
    expect(refused!.message).toMatch(/event loop is 90% busy \(priorityYieldUtilization 0.6\) while requests of priority level 1 arrive; level 2 yields/);
    expect(a.refusal(0, { priority: 3 })?.kind).toBe("resource_exhausted");
    expect(a.refusal(0, { priority: 0 })).toBeUndefined(); // priorities off: no levels to yield to
  });

  it("admits the lower level once the loop is under the limit or the higher level has been gone a second", () => {
    const { a, state } = admission({ maxUtilization: 0.6 });
    state.utilization = 0.9;
    a.refusal(0, { priority: 1 });
    expect(a.refusal(0, { priority: 2 })).toBeDefined();
    state.utilization = 0.6; // at the limit: not over it
    expect(a.refusal(0, { priority: 2 })).toBeUndefined();
    state.utilization = 0.9;
    state.nowMs = HIGHER_LEVEL_RECENT_MS + 1;
    expect(a.refusal(0, { priority: 2 })).toBeUndefined();
    // level 2 arriving makes level 3 yield to it as well
    expect(a.refusal(0, { priority: 3 })).toMatchObject({ message: expect.stringMatching(/priority level 2 arrive; level 3 yields/) });
  });

  it("never yields without the setting", () => {
    const { a, state } = admission();
    state.utilization = 1;
    a.refusal(0, { priority: 1 });
    expect(a.refusal(0, { priority: 2 })).toBeUndefined();
  });
});
