import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/pipeline/Batcher.js";
import { FakeClock, flush } from "../support/FakeClock.js";

function setup(opts: { maxBatchSize?: number; maxQueueDelayMs?: number; maxQueueSize?: number } = {}) {
  const clock = new FakeClock();
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const b = new Batcher<number>({
    maxBatchSize: opts.maxBatchSize ?? 4,
    maxQueueDelayMs: opts.maxQueueDelayMs ?? 5,
    maxQueueSize: opts.maxQueueSize ?? 100,
    clock,
    run: (batch) => {
      batches.push(batch);
      return hold ? new Promise<void>((r) => (release = r)) : Promise.resolve();
    },
  });
  return { clock, b, batches, holdRuns: () => (hold = true), release: () => release?.() };
}

describe("Batcher", () => {
  it("runs a full batch at once, without waiting for the delay", async () => {
    const { b, batches } = setup({ maxBatchSize: 3 });
    [1, 2, 3].forEach((i) => {
      b.offer(i);
    });
    await flush();
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("runs a partial batch when the oldest item has waited maxQueueDelayMs", async () => {
    const { b, batches, clock } = setup({ maxQueueDelayMs: 5 });
    b.offer(1);
    await clock.advance(3);
    b.offer(2);
    await clock.advance(1.9);
    expect(batches).toEqual([]);
    await clock.advance(0.1);
    expect(batches).toEqual([[1, 2]]);
  });

  it("with zero delay runs each item as soon as the runner is free", async () => {
    const { b, batches } = setup({ maxQueueDelayMs: 0 });
    b.offer(7);
    await flush();
    expect(batches).toEqual([[7]]);
  });

  it("refuses offers beyond maxQueueSize but always accepts enqueue", () => {
    const { b } = setup({ maxQueueSize: 2, maxBatchSize: 10 });
    expect(b.offer(1)).toBe(true);
    expect(b.offer(2)).toBe(true);
    expect(b.offer(3)).toBe(false);
    b.enqueue(4);
    expect(b.depth).toBe(3);
  });

  it("keeps one batch in flight and forms the next from items that arrived meanwhile", async () => {
    const s = setup({ maxBatchSize: 2, maxQueueDelayMs: 1 });
    s.holdRuns();
    s.b.offer(1);
    s.b.offer(2);
    await flush();
    [3, 4, 5].forEach((i) => {
      s.b.offer(i);
    });
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

  it("remove() takes a waiting item out; idle() resolves when nothing is left", async () => {
    const { b, batches, clock } = setup();
    b.offer(1);
    b.offer(2);
    expect(b.remove(1)).toBe(true);
    expect(b.remove(1)).toBe(false);
    await clock.advance(5);
    expect(batches).toEqual([[2]]);
    await expect(b.idle()).resolves.toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it("keeps going after a run rejects", async () => {
    const clock = new FakeClock();
    const seen: number[][] = [];
    const b = new Batcher<number>({
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      maxQueueSize: 10,
      clock,
      run: async (batch) => {
        seen.push(batch);
        if (batch[0] === 1) throw new Error("boom");
      },
    });
    b.offer(1);
    b.offer(2);
    await flush();
    expect(seen).toEqual([[1], [2]]);
  });
  it("runs up to maxInflightBatches batches at once and forms the next one meanwhile", async () => {
    const clock = new FakeClock();
    const running: number[][] = [];
    const releases: (() => void)[] = [];
    const b = new Batcher<number>({
      maxBatchSize: 2,
      maxQueueDelayMs: 5,
      maxQueueSize: 100,
      maxInflightBatches: 2,
      clock,
      run: (batch) => {
        running.push(batch);
        return new Promise<void>((r) => releases.push(r));
      },
    });
    for (const i of [1, 2, 3, 4, 5, 6]) b.offer(i);
    await flush();
    expect(running).toEqual([
      [1, 2],
      [3, 4],
    ]); // two side by side; [5, 6] waits for a free slot
    expect(b.depth).toBe(2);
    releases.shift()!();
    await flush();
    expect(running.at(-1)).toEqual([5, 6]);
    expect(b.depth).toBe(0);
  });

  describe("work-conserving (runnerIdle)", () => {
    function idleSetup() {
      const clock = new FakeClock();
      const batches: number[][] = [];
      const state = { idle: false };
      const b = new Batcher<number>({
        maxBatchSize: 8,
        maxQueueDelayMs: 5,
        maxQueueSize: 100,
        clock,
        runnerIdle: () => state.idle,
        run: async (batch) => {
          batches.push(batch);
          state.idle = false; // the batch occupies the runner
        },
      });
      return { clock, b, batches, state };
    }

    it("runs a partial batch at once while the runner is idle, and waits for the delay while it is busy", async () => {
      const idle = idleSetup();
      idle.state.idle = true;
      idle.b.offer(1);
      await flush();
      expect(idle.batches).toEqual([[1]]);
      const busy = idleSetup();
      busy.b.offer(2);
      await busy.clock.advance(4.9);
      expect(busy.batches).toEqual([]);
      await busy.clock.advance(0.1);
      expect(busy.batches).toEqual([[2]]);
    });

    it("waits for a fuller batch while the runner is busy, and poke() runs it when the runner frees up", async () => {
      const s = idleSetup();
      s.b.offer(1);
      s.b.offer(2);
      await s.clock.advance(2);
      expect(s.batches).toEqual([]);
      s.state.idle = true;
      s.b.poke();
      await flush();
      expect(s.batches).toEqual([[1, 2]]);
      expect(s.clock.pendingTimers).toBe(0);
    });

    it("enqueueAll hands an idle runner the items as one batch, not the first alone", async () => {
      const s = idleSetup();
      s.state.idle = true;
      s.b.enqueueAll([1, 2, 3]);
      s.b.enqueueAll([]);
      await flush();
      expect(s.batches).toEqual([[1, 2, 3]]);
    });
  });

  it("queues lower ranks ahead (FIFO within a rank) and fills a batch from the next ranks", async () => {
    const clock = new FakeClock();
    const batches: number[][] = [];
    const b = new Batcher<number>({
      maxBatchSize: 3,
      maxQueueDelayMs: 50,
      maxQueueSize: 100,
      clock,
      rank: (x) => Math.floor(x / 10), // 1x = level 1, 2x = level 2
      run: async (batch) => void batches.push(batch),
    });
    b.enqueueAll([21, 22]);
    b.enqueueAll([11, 12]); // ahead of 21 and 22: the first batch takes 11, 12 and fills up with 21
    expect([b.depthUpTo(1), b.depthAt(2), b.depth]).toEqual([0, 1, 1]);
    await flush();
    expect(batches).toEqual([[11, 12, 21]]);
    b.enqueueAll([13]);
    expect([b.depthUpTo(1), b.depthUpTo(2), b.depth]).toEqual([1, 2, 2]);
    await clock.advance(50);
    expect(batches).toEqual([
      [11, 12, 21],
      [13, 22],
    ]);
    expect(b.depth).toBe(0);
  });
});
