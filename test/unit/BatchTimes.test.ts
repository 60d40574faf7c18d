import { describe, expect, it } from "vitest";
import { BatchTimes, HANDOFF_MIN_MS, HANDOFF_SHARE } from "../../src/scheduler/BatchTimes.js";

const q1 = {};
const q2 = {};
const batch = (queue: object, n: number) => ({ queue, items: Array.from({ length: n }) });
const held = (...bs: ReturnType<typeof batch>[]) => bs.map((b) => ({ batch: b }));

describe("BatchTimes", () => {
  it("knows no end before a queue's batch has run from start to finish on a worker", () => {
    const t = new BatchTimes(2);
    expect(t.slotOpensAtMs(0, held(batch(q1, 4)))).toBe(Number.NEGATIVE_INFINITY);
    t.started(0, 0);
    expect(t.slotOpensAtMs(0, held(batch(q1, 4)))).toBe(Number.NEGATIVE_INFINITY); // no run time of q1 yet
    expect(t.slotOpensAtMs(1, [])).toBe(Number.NEGATIVE_INFINITY); // holds nothing: idle
  });

  it("opens a further slot as the held batches are due to end, less the hand-off", () => {
    const t = new BatchTimes(1);
    t.started(0, 100);
    t.finished(0, batch(q1, 10), 120, true); // 2 ms per item; the next batch starts at 120
    const ms = 2 * 8;
    expect(t.slotOpensAtMs(0, held(batch(q1, 8)))).toBe(120 + ms - Math.max(HANDOFF_MIN_MS, HANDOFF_SHARE * ms));
    // short batches: at least HANDOFF_MIN_MS before the end
    expect(t.slotOpensAtMs(0, held(batch(q1, 1)))).toBe(120 + 2 - HANDOFF_MIN_MS);
    // two held batches: after both
    t.started(0, 120);
    t.finished(0, batch(q2, 1), 121, true); // q2: 1 ms per item, from 121
    expect(t.slotOpensAtMs(0, held(batch(q2, 4), batch(q1, 2)))).toBe(121 + 8 - Math.max(HANDOFF_MIN_MS, HANDOFF_SHARE * 8));
  });

  it("follows a queue's run times as they change (a moving mean), and forgets the start of a worker that went idle", () => {
    const t = new BatchTimes(1);
    t.started(0, 0);
    t.finished(0, batch(q1, 1), 10, true); // 10 ms per item
    t.finished(0, batch(q1, 1), 30, false); // 20: the mean moves a fifth of the way
    const perItem = 10 + 0.2 * (20 - 10);
    t.started(0, 50);
    expect(t.slotOpensAtMs(0, held(batch(q1, 1)))).toBeCloseTo(50 + perItem - Math.max(HANDOFF_MIN_MS, HANDOFF_SHARE * perItem));
    t.finished(0, batch(q1, 1), 62, false);
    expect(t.slotOpensAtMs(0, held(batch(q1, 1)))).toBe(Number.NEGATIVE_INFINITY); // idle: nothing started
  });
});
