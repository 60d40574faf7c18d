import { describe, expect, it } from "vitest";
import { StageQueue } from "../../src/scheduler/StageQueue.js";

type Item = { id: string; level: number; tenant?: string };
const queue = () =>
  new StageQueue<Item>({
    model: "m",
    depthOrder: 0,
    maxBatchSize: 4,
    maxQueueDelayMs: 5,
    dispatchWhenIdle: false,
    rank: (i) => i.level,
    group: (i) => i.tenant,
    run: async () => {},
  });
const item = (id: string, level: number, tenant?: string): Item => ({ id, level, tenant });

describe("StageQueue: one line per priority level, delayed items behind every level's waiting ones", () => {
  it("takes by level, FIFO within a level", () => {
    const q = queue();
    q.add([item("a2", 2), item("b1", 1), item("c2", 2), item("d1", 1), item("e3", 3)], 0);
    expect(q.head).toEqual({ rank: 1, delayed: false });
    expect([q.depth, q.depthAt(2), q.depthUpTo(2), q.depthUpTo(0)]).toEqual([5, 2, 4, 0]);
    expect(q.take(3).map((i) => i.id)).toEqual(["b1", "d1", "a2"]);
    expect(q.take(9).map((i) => i.id)).toEqual(["c2", "e3"]);
    expect(q.head).toBeUndefined();
  });

  it("puts a delayed item behind every item not delayed, of any level, and out of its level's admission count", () => {
    const q = queue();
    const late = item("late1", 1);
    q.add([late, item("x1", 1), item("y3", 3)], 0);
    expect(q.delay(late, 10)).toBe(true);
    expect(q.delay(late, 10)).toBe(false); // already delayed
    expect([q.depth, q.depthAt(1), q.depthUpTo(3)]).toEqual([3, 1, 2]);
    const other = item("late3", 3);
    q.add([other], 11);
    q.delay(other, 12);
    expect(q.take(2).map((i) => i.id)).toEqual(["x1", "y3"]);
    expect(q.head).toEqual({ rank: 1, delayed: true });
    expect(q.headEnqueuedAtMs).toBe(10); // when it was delayed
    expect(q.take(4).map((i) => i.id)).toEqual(["late1", "late3"]);
  });

  it("removes waiting and delayed items and keeps the group counts", () => {
    const q = queue();
    const a = item("a", 1, "t");
    const b = item("b", 2, "t");
    q.add([a, b, item("c", 2)], 0);
    q.delay(b, 1);
    expect(q.depthOfGroup("t")).toBe(2);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect(q.remove(a)).toBe(true);
    expect([q.depth, q.depthOfGroup("t")]).toEqual([1, 0]);
    expect(q.ready(4, false)).toBe(false);
    expect(q.ready(5, false)).toBe(true); // the head waited maxQueueDelayMs
  });
});
