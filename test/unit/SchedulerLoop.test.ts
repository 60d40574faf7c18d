import { describe, expect, it } from "vitest";
import { Scheduler } from "../../src/scheduler/Scheduler.js";
import { SchedulerLoop } from "../../src/scheduler/SchedulerLoop.js";
import { FakeClock, flush } from "../support/FakeClock.js";

/** One queue of numbers on a scheduler of `workers` x `slots`; runs are held until released when `hold` is set. */
function setup(
  opts: { maxBatchSize?: number; maxQueueDelayMs?: number; workers?: number; slots?: number; dispatchWhenIdle?: boolean; rank?: (x: number) => number } = {},
) {
  const clock = new FakeClock();
  const loop = new SchedulerLoop(new Scheduler({ workers: opts.workers ?? 1, slotsPerWorker: opts.slots ?? 1 }), clock);
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const state = { hold: false, failFirst: false };
  const q = loop.addQueue<number>({
    model: "m",
    depthOrder: 0,
    maxBatchSize: opts.maxBatchSize ?? 4,
    maxQueueDelayMs: opts.maxQueueDelayMs ?? 5,
    dispatchWhenIdle: opts.dispatchWhenIdle ?? false,
    rank: opts.rank,
    run: async (batch) => {
      batches.push(batch);
      if (state.failFirst && batches.length === 1) throw new Error("boom");
      if (state.hold) await new Promise<void>((r) => releases.push(r));
    },
  });
  return { clock, loop, q, batches, state, release: () => releases.shift()?.() };
}

describe("SchedulerLoop", () => {
  it("runs a full batch at once, without waiting for the delay", async () => {
    const { loop, q, batches } = setup({ maxBatchSize: 3 });
    loop.enqueue(q, [1, 2, 3]);
    await flush();
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("runs a partial batch when the first in line has waited maxQueueDelayMs", async () => {
    const { loop, q, batches, clock } = setup({ maxQueueDelayMs: 5 });
    loop.enqueue(q, [1]);
    await clock.advance(3);
    loop.enqueue(q, [2]);
    await clock.advance(1.9);
    expect(batches).toEqual([]);
    await clock.advance(0.1);
    expect(batches).toEqual([[1, 2]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("sends a busy worker's next partial batch as its running batch is due to end, from the run times it measured", async () => {
    const { loop, q, batches, clock, state, release } = setup({ maxQueueDelayMs: 1, slots: 2, dispatchWhenIdle: true });
    state.hold = true;
    loop.enqueue(q, [1, 2]);
    await flush();
    await clock.advance(8);
    release(); // 2 items in 8 ms: 4 ms per item
    await flush();
    loop.enqueue(q, [3, 4]); // idle: runs at once, due to end 8 ms later
    await flush();
    loop.enqueue(q, [5]);
    await clock.advance(5); // past maxQueueDelayMs, but the worker runs [3, 4] for 3 ms more
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    loop.enqueue(q, [6]);
    await clock.advance(1); // due at 8 - 2 (the hand-off: a quarter of 8 ms)
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it("with zero delay runs each item as soon as a slot is free", async () => {
    const { loop, q, batches } = setup({ maxQueueDelayMs: 0 });
    loop.enqueue(q, [7]);
    await flush();
    expect(batches).toEqual([[7]]);
  });

  it("refuses an offer beyond maxQueueSize; enqueue of admitted work always queues", () => {
    const { loop, q } = setup({ maxBatchSize: 10, maxQueueDelayMs: 50 });
    expect(loop.offer(q, 1, 2)).toBe(true);
    expect(loop.offer(q, 2, 2)).toBe(true);
    expect(loop.offer(q, 3, 2)).toBe(false);
    loop.enqueue(q, [4]);
    expect(q.depth).toBe(3);
  });

  it("keeps one batch per slot and forms the next from what arrived meanwhile", async () => {
    const s = setup({ maxBatchSize: 2, maxQueueDelayMs: 1 });
    s.state.hold = true;
    s.loop.enqueue(s.q, [1, 2]);
    await flush();
    s.loop.enqueue(s.q, [3, 4, 5]);
    await s.clock.advance(10);
    expect(s.batches).toEqual([[1, 2]]);
    s.release();
    await flush();
    expect(s.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    s.release();
    await flush();
    expect(s.batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("runs batches side by side on every worker slot and forms the next when one frees", async () => {
    const s = setup({ maxBatchSize: 2, workers: 2, slots: 1 });
    s.state.hold = true;
    s.loop.enqueue(s.q, [1, 2, 3, 4, 5, 6]);
    await flush();
    expect(s.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(s.q.depth).toBe(2);
    s.release();
    await flush();
    expect(s.batches.at(-1)).toEqual([5, 6]);
  });

  it("takes a removed item out of line and keeps going after a run rejects", async () => {
    const s = setup({ maxBatchSize: 1, maxQueueDelayMs: 0 });
    s.state.failFirst = true;
    s.loop.enqueue(s.q, [1, 2, 3]);
    expect(s.loop.remove(s.q, 2)).toBe(true);
    expect(s.loop.remove(s.q, 2)).toBe(false);
    await flush();
    expect(s.batches).toEqual([[1], [3]]);
  });

  it("with dispatchWhenIdle an idle worker takes a partial batch at once, items queued together as one batch", async () => {
    const s = setup({ dispatchWhenIdle: true, maxQueueDelayMs: 50 });
    s.state.hold = true;
    s.loop.enqueue(s.q, [1, 2, 3]);
    await flush();
    expect(s.batches).toEqual([[1, 2, 3]]);
    s.loop.enqueue(s.q, [4]); // the worker is busy: 4 waits for a free slot, not for the delay
    await s.clock.advance(2);
    expect(s.batches).toHaveLength(1);
    s.release();
    await flush();
    expect(s.batches.at(-1)).toEqual([4]);
  });

  it("keeps admitted items while no worker takes work, and runs them when kicked after one is back", async () => {
    const clock = new FakeClock();
    const alive = [false];
    const loop = new SchedulerLoop(new Scheduler({ workers: 1, slotsPerWorker: 2, workerAlive: (i) => alive[i]! }), clock);
    const batches: number[][] = [];
    const q = loop.addQueue<number>({
      model: "m",
      depthOrder: 0,
      maxBatchSize: 4,
      maxQueueDelayMs: 5,
      dispatchWhenIdle: true,
      run: async (b) => void batches.push(b),
    });
    loop.enqueue(q, [1, 2]);
    await clock.advance(50);
    expect([batches, q.depth, clock.pendingTimers]).toEqual([[], 2, 0]); // nothing lost, no timer spinning
    alive[0] = true;
    loop.kick(); // what the engine pool's onWorkerBack does
    await flush();
    expect(batches).toEqual([[1, 2]]);
  });

  it("queues lower ranks ahead (FIFO within a rank) and fills a batch from the next ranks", async () => {
    const s = setup({ maxBatchSize: 3, maxQueueDelayMs: 50, rank: (x) => Math.floor(x / 10) });
    s.state.hold = true;
    s.loop.enqueue(s.q, [99]); // occupies the one slot
    await s.clock.advance(50);
    s.loop.enqueue(s.q, [21, 22]);
    s.loop.enqueue(s.q, [11, 12]); // ahead of 21 and 22
    expect([s.q.depthUpTo(1), s.q.depthAt(2), s.q.depth]).toEqual([2, 2, 4]);
    s.release();
    await flush();
    expect(s.batches.at(-1)).toEqual([11, 12, 21]);
    s.loop.enqueue(s.q, [13]);
    expect([s.q.depthUpTo(1), s.q.depthUpTo(2), s.q.depth]).toEqual([1, 2, 2]);
    s.release();
    await s.clock.advance(50); // a partial batch: it waits for the delay
    expect(s.batches.at(-1)).toEqual([13, 22]);
  });
});
