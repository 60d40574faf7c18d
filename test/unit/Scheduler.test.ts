import { describe, expect, it } from "vitest";
import { LEVEL_ACTIVE_MS, type PlannedBatch, Scheduler } from "../../src/scheduler/Scheduler.js";
import type { QueueSpec, StageQueue } from "../../src/scheduler/StageQueue.js";

/** Items are strings "<model><stage>:<n>"; a queue runs nothing itself (the plan is what is tested). */
function queueOf(s: Scheduler, model: string, stage: number, opts: Partial<QueueSpec<string>> = {}): StageQueue<string> {
  return s.addQueue<string>({
    model,
    depthOrder: stage,
    maxBatchSize: 4,
    maxQueueDelayMs: 5,
    dispatchWhenIdle: true,
    run: async () => {},
    ...opts,
  });
}

const items = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
/** A plan as "worker <- first item xN". */
const show = (plan: PlannedBatch[]) => plan.map((b) => `${b.worker} <- ${(b.items as string[])[0]} x${b.items.length}`);

describe("Scheduler", () => {
  it("gives an idle worker whatever waits, and a busy worker's second slot only a full batch or one past maxQueueDelayMs", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
    const q = queueOf(s, "a", 0);
    q.add(["a0:0"], 0);
    expect(show(s.schedule(0))).toEqual(["0 <- a0:0 x1"]); // idle: no wait for a fuller batch
    q.add(items("a0", 2), 1);
    expect(s.schedule(1)).toEqual([]); // busy: waits to fill
    expect(s.nextDueMs(1)).toBe(6);
    expect(show(s.schedule(6))).toEqual(["0 <- a0:0 x2"]); // waited maxQueueDelayMs
    q.add(items("b", 9), 6);
    expect(s.schedule(6)).toEqual([]); // both slots taken: the items wait in the queue, not in the worker
    expect(s.nextDueMs(6)).toBeUndefined(); // no slot: a finishing batch calls for the next plan
  });

  it("opens a busy worker's second slot to a partial batch only as its running batch is due to end (measured run times)", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
    const q = queueOf(s, "a", 0);
    q.add(items("first", 4), 0);
    const [first] = s.schedule(0);
    s.finished(first!, 10); // 4 items in 10 ms: 2.5 ms per item
    q.add(items("second", 4), 10);
    const [second] = s.schedule(10); // idle again: leaves at once; due to end at 20
    expect(second!.items).toHaveLength(4);
    q.add(items("late", 2), 11);
    // past maxQueueDelayMs (16) the worker is still busy for 4 ms: the batch waits to fill until 20 less the hand-off (2.5)
    expect(s.nextDueMs(11)).toBe(17.5);
    expect(s.schedule(16)).toEqual([]);
    q.add(items("later", 1), 17);
    expect(show(s.schedule(17.5))).toEqual(["0 <- late:0 x3"]);
    // nor does a full one leave before the slot opens: then the deeper stage's partial batch goes first
    s.finished(second!, 20); // the worker runs "late" (3 items, due to end at 27.5); its slot opens a quarter of 7.5 ms before
    const deeper = queueOf(s, "a", 1);
    q.add(items("full", 4), 21);
    deeper.add(items("deep", 1), 20);
    expect(s.schedule(24)).toEqual([]);
    expect(s.nextDueMs(24)).toBe(25.625);
    expect(show(s.schedule(25.625))).toEqual(["0 <- deep:0 x1"]);
  });

  it("gives a queue pinned to a worker (its items' tensors are kept there) to that worker's slots only", () => {
    const s = new Scheduler({ workers: 2, slotsPerWorker: 1 });
    const onOne = queueOf(s, "a", 1, { worker: 1 });
    const any = queueOf(s, "a", 0);
    onOne.add(items("deep", 2), 0);
    any.add(items("new", 2), 0);
    // worker 0 may not take the deeper, pinned batch: it takes the first stage; worker 1 the pinned one
    expect(show(s.schedule(0)).sort()).toEqual(["0 <- new:0 x2", "1 <- deep:0 x2"]);
    onOne.add(items("more", 1), 1);
    expect(s.schedule(1)).toEqual([]); // worker 1 is busy and worker 0 is not its worker: it waits
  });

  it("gives a pinned queue whose worker died to a live worker (whose run fails its requests at once)", () => {
    let alive = [true, true];
    const s = new Scheduler({ workers: 2, slotsPerWorker: 1, workerAlive: (w) => alive[w]! });
    const onOne = queueOf(s, "a", 1, { worker: 1 });
    onOne.add(items("orphan", 2), 0);
    alive = [true, false];
    expect(show(s.schedule(0))).toEqual(["0 <- orphan:0 x2"]);
  });

  it("forms a batch when a slot frees, so what arrived meanwhile leaves together, up to maxBatchSize", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 1 });
    const q = queueOf(s, "a", 0);
    q.add(["x"], 0);
    const [first] = s.schedule(0);
    q.add(items("y", 6), 1);
    expect(s.schedule(1)).toEqual([]);
    s.finished(first!);
    expect(show(s.schedule(2))).toEqual(["0 <- y:0 x4"]);
    expect(q.depth).toBe(2);
  });

  it("fills the least loaded worker first and skips a worker that is not alive", () => {
    const alive = [true, false, true];
    const s = new Scheduler({ workers: 3, slotsPerWorker: 2, workerAlive: (i) => alive[i]! });
    const q = queueOf(s, "a", 0, { maxBatchSize: 1 });
    q.add(items("a", 5), 0);
    expect(show(s.schedule(0)).map((x) => x.split(" ")[0])).toEqual(["0", "2", "0", "2"]);
    alive[1] = true;
    expect(show(s.schedule(0))).toEqual(["1 <- a:4 x1"]);
  });

  it("lets a quiet model's batch into the next free slot ahead of a flooded model's, and queues none of the flooded model's behind it", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
    const a = queueOf(s, "a", 0);
    a.add(items("a", 40), 0); // flooded: full batches
    const [a1, a2] = s.schedule(0);
    expect([a1, a2].every((b) => b?.queue === a)).toBe(true);
    const b = queueOf(s, "b", 0);
    b.add(["b:0"], 1);
    expect(s.schedule(1)).toEqual([]); // every slot taken
    s.finished(a1!); // the worker runs a2; its free slot takes a's next full batch ("b" is not due yet)
    const [a3] = s.schedule(1);
    expect(show([a3!])).toEqual(["0 <- a:8 x4"]);
    s.finished(a2!); // the worker runs a3; "b" (none in the workers, due now) goes ahead of a's next full batch
    expect(show(s.schedule(6))).toEqual(["0 <- b:0 x1"]);
    s.finished(a3!); // the worker runs b; "a" (none in the workers now) may wait behind it
    expect(show(s.schedule(6))).toEqual(["0 <- a:12 x4"]);
  });

  it("does not queue a busier model's batch behind a quieter model's running one", () => {
    const s = new Scheduler({ workers: 2, slotsPerWorker: 2 });
    const a = queueOf(s, "a", 0, { maxBatchSize: 1 });
    const b = queueOf(s, "b", 0, { maxBatchSize: 1 });
    a.add(items("a", 20), 0);
    const plan = s.schedule(0); // four "a" batches fill both workers
    expect(plan).toHaveLength(4);
    b.add(["b:0"], 0);
    s.finished(plan.find((p) => p.worker === 1)!); // worker 1 runs its second "a" batch: "b" takes the slot behind it
    expect(show(s.schedule(0))).toEqual(["1 <- b:0 x1"]);
    s.finished(plan.filter((p) => p.worker === 1)[1]!); // worker 1 runs "b" now; "a" holds two, "b" one: no "a" behind "b"
    expect(s.schedule(0)).toEqual([]);
  });

  it("gives an idle worker to the model with the fewest batches in the workers, round-robin among equals", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 1 });
    const a = queueOf(s, "a", 0, { maxBatchSize: 1 });
    const b = queueOf(s, "b", 0, { maxBatchSize: 1 });
    a.add(items("a", 3), 0);
    b.add(items("b", 3), 0);
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [p] = s.schedule(0);
      order.push((p!.items as string[])[0]!);
      s.finished(p!);
    }
    expect(order).toEqual(["a:0", "b:0", "a:1", "b:1", "a:2", "b:2"]);
  });

  it("within a model runs the highest priority level first, then the deepest program", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 1 });
    const rank = (x: string) => Number(x.split(":")[0]!.slice(-1)); // "s0p2:0" -> level 2
    const stage0 = queueOf(s, "a", 0, { rank, maxBatchSize: 1 });
    const stage1 = queueOf(s, "a", 1, { rank, maxBatchSize: 1 });
    const fused = queueOf(s, "a", 5, { rank, maxBatchSize: 1 });
    stage0.add(["s0p2:0"], 0);
    stage1.add(["s1p1:0"], 0);
    fused.add(["s5p2:0"], 0);
    stage0.add(["s0p1:0"], 0);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [p] = s.schedule(0);
      order.push(...(p!.items as string[]));
      s.finished(p!);
    }
    // level 1: stage 1 (deeper) before stage 0; then level 2: the fused graph, then stage 0
    expect(order).toEqual(["s1p1:0", "s0p1:0", "s0p2:0", "s5p2:0"].slice(0, 2).concat(["s5p2:0", "s0p2:0"]));
  });

  it("forgets a removed model's queues once its batches finish", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
    const a = queueOf(s, "a", 0);
    a.add(["a:0"], 0);
    const [p] = s.schedule(0);
    s.removeQueue(a as StageQueue<unknown>);
    const b = queueOf(s, "b", 0);
    b.add(["b:0"], 0);
    expect(s.schedule(0)).toEqual([]); // second slot, b not due
    s.finished(p!);
    expect(show(s.schedule(0))).toEqual(["0 <- b:0 x1"]);
  });

  describe("preemption between priority levels (yieldBatchSize)", () => {
    const rank = (x: string) => Number(x.split(":")[0]!.slice(-1)); // "p2:0" -> level 2
    const prioritised = (s: Scheduler, stage: number, yieldBatchSize: number, worker?: number) =>
      queueOf(s, "a", stage, { rank, maxBatchSize: 8, yieldBatchSize, worker });

    it("caps a lower level's batch while a higher level is queued or joined within LEVEL_ACTIVE_MS, and fills it again after", () => {
      const s = new Scheduler({ workers: 1, slotsPerWorker: 1 });
      const q = prioritised(s, 0, 2);
      q.add(items("p2", 20), 0);
      let [b] = s.schedule(0);
      expect(b!.items).toHaveLength(8); // no higher level seen: a full batch
      s.finished(b!);
      q.add(["p1:0"], 10);
      [b] = s.schedule(10);
      expect(b!.items).toEqual(["p1:0", "p2:8"]); // level 1 first, level 2 only up to 2 in all
      s.finished(b!);
      [b] = s.schedule(10 + LEVEL_ACTIVE_MS);
      expect(b!.items).toEqual(["p2:9", "p2:10"]); // level 1 joined within LEVEL_ACTIVE_MS: still capped
      s.finished(b!);
      [b] = s.schedule(11 + LEVEL_ACTIVE_MS);
      expect(b!.items).toHaveLength(8); // level 1 gone quiet: full batches again
    });

    it("takes a higher level's own requests up to maxBatchSize", () => {
      const s = new Scheduler({ workers: 1, slotsPerWorker: 1 });
      const q = prioritised(s, 0, 2);
      q.add(items("p2", 4), 0);
      q.add(items("p1", 5), 0);
      const [b] = s.schedule(0);
      expect(b!.items).toEqual(["p1:0", "p1:1", "p1:2", "p1:3", "p1:4"]); // five of level 1; no level 2, as the batch already holds more than yieldBatchSize
    });

    it("gives a higher level's batch a slot beyond slotsPerWorker where lower levels fill the slots, at once", () => {
      const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
      const entry = prioritised(s, 0, 2);
      const deeper = prioritised(s, 1, 2, 0);
      entry.add(items("p2", 20), 0);
      expect(s.schedule(0)).toHaveLength(2); // both slots: level 2
      deeper.add(["p1:0"], 1);
      expect(show(s.schedule(1))).toEqual(["0 <- p1:0 x1"]); // a third batch, not waiting for a slot (nor for a fuller batch)
      deeper.add(["p1:1"], 2);
      expect(show(s.schedule(2))).toEqual(["0 <- p1:1 x1"]); // level 1 holds one of its two slots
      deeper.add(["p1:2"], 3);
      entry.add(items("p3", 1), 3);
      expect(s.schedule(3)).toEqual([]); // level 1 holds two: it waits; level 2 and 3 wait for their slots
    });

    it("does not make one model yield to another: a quiet model's batch neither shortens a busy model's nor passes its slots", () => {
      const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
      const a = queueOf(s, "a", 0, { rank, maxBatchSize: 8, yieldBatchSize: 2 });
      const b = queueOf(s, "b", 0, { rank, maxBatchSize: 8, yieldBatchSize: 2 });
      a.add(items("p2", 40), 0);
      const [a1, a2] = s.schedule(0);
      b.add(["p1:0"], 1);
      expect(s.schedule(1)).toEqual([]); // no slot beyond slotsPerWorker for another model's level 1
      s.finished(a1!);
      const [b1] = s.schedule(6);
      expect(show([b1!])).toEqual(["0 <- p1:0 x1"]); // the next free slot, by the fairness between models
      s.finished(a2!);
      expect(show(s.schedule(6))).toEqual(["0 <- p2:16 x8"]); // "a" still fills its batches
    });

    it("keeps the slots as they were without yieldBatchSize, or for a delayed head", () => {
      const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
      const entry = queueOf(s, "a", 0, { rank, maxBatchSize: 8 });
      entry.add(items("p2", 20), 0);
      expect(s.schedule(0)).toHaveLength(2);
      entry.add(["p1:0"], 1);
      expect(s.schedule(1)).toEqual([]); // no slot beyond slotsPerWorker
      const s2 = new Scheduler({ workers: 1, slotsPerWorker: 1 });
      const q = prioritised(s2, 0, 2);
      q.add(items("p2", 9), 0);
      expect(s2.schedule(0)).toHaveLength(1);
      q.add(["p1:0"], 1);
      q.delay("p1:0", 2); // its queue timeout passed: behind every item not delayed
      expect(s2.schedule(2)).toEqual([]);
    });
  });
});

describe("Scheduler.sharesEngine (exits decided in the engine, auto: a chain only with the engine to itself)", () => {
  it("another model's work in the workers, waiting, or queued within LEVEL_ACTIVE_MS; or a higher level of the model's own", () => {
    const s = new Scheduler({ workers: 1, slotsPerWorker: 2 });
    const a = queueOf(s, "a", 0, { rank: (x) => (x.startsWith("high") ? 0 : 1) });
    const b = queueOf(s, "b", 0);
    expect(s.sharesEngine("a", 1, 0)).toBe(false);
    b.add(["b0:0"], 0);
    expect(s.sharesEngine("a", 1, 0)).toBe(true); // waiting
    const [batch] = s.schedule(0);
    expect(s.sharesEngine("a", 1, LEVEL_ACTIVE_MS + 1)).toBe(true); // in a worker
    s.finished(batch!);
    expect(s.sharesEngine("a", 1, LEVEL_ACTIVE_MS - 1)).toBe(true); // queued within the last LEVEL_ACTIVE_MS
    expect(s.sharesEngine("a", 1, LEVEL_ACTIVE_MS + 1)).toBe(false);
    const t = LEVEL_ACTIVE_MS + 1;
    a.add(["low:0"], t);
    expect(s.sharesEngine("a", 1, t)).toBe(false); // its own level
    a.add(["high:0"], t);
    expect(s.sharesEngine("a", 1, t)).toBe(true); // a higher level of its own
    expect(s.sharesEngine("a", 0, t)).toBe(false);
    expect(s.sharesEngine("b", 0, t)).toBe(true); // "a" is about
  });
});
