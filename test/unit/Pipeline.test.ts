import pino from "pino";
import { describe, expect, it } from "vitest";
import { ServingError } from "../../src/core/errors.js";
import { HostKeepingRunner } from "../../src/engine/HostKeepingRunner.js";
import { StaticExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import { Pipeline, type PipelineModel } from "../../src/pipeline/Pipeline.js";
import { FakeClock, flush } from "../support/FakeClock.js";
import { model, ToyRunner } from "../support/toyPipeline.js";

function setup(thresholds = [0.99, 0.99, 0], opts: { maxBatchSize?: number; maxQueueSize?: number; maxQueueWaitMs?: number; yieldBatchSize?: number } = {}) {
  const clock = new FakeClock();
  const runner = new ToyRunner(clock);
  const observed: number[] = [];
  const policy = new StaticExitPolicy(thresholds);
  policy.observe = (a) => void observed.push(a.flops);
  const keeping = new HostKeepingRunner(runner);
  const p = new Pipeline(model, keeping, policy, {
    maxBatchSize: opts.maxBatchSize ?? 8,
    maxQueueDelayMs: 1,
    dispatchWhenIdle: false, // batches wait to fill (or 1 ms), so requests submitted together share one
    maxQueueSize: opts.maxQueueSize ?? 100,
    maxQueueWaitMs: opts.maxQueueWaitMs,
    yieldBatchSize: opts.yieldBatchSize,
    clock,
    log: pino({ level: "silent" }),
  });
  return { p, clock, runner, keeping, observed };
}

const x = (v: number) => Float32Array.of(v);

describe("Pipeline", () => {
  it("answers confident samples early and sends the rest on with their carried tensors", async () => {
    const { p, clock, runner, observed } = setup();
    // confidence at stage k is sigmoid((k+1)*10*x): x=0.9 exits at 1, x=0.25 at 2, x=0.05 at 3
    const subs = [0.9, 0.25, 0.05].map((v) => p.submit(x(v), { returnAllExits: true }));
    await clock.advance(10);
    const [a, b, c] = await Promise.all(subs.map((s) => s.result));
    expect([a!.exit, b!.exit, c!.exit]).toEqual([0, 1, 2]);
    expect([a!.reason, b!.reason, c!.reason]).toEqual(["confident", "confident", "last"]);
    expect(c!.exits.map((e) => e.exit)).toEqual([0, 1, 2]);
    expect(c!.flops).toBe(40);
    expect(runner.calls).toEqual([
      { stage: 0, n: 3 },
      { stage: 1, n: 2 },
      { stage: 2, n: 1 },
    ]);
    expect(observed.sort()).toEqual([10, 25, 40].sort());
    expect(p.inflightCount).toBe(0);
  });

  it("runs batch size 1 the same as batched", async () => {
    const one = setup();
    const r1 = one.p.submit(x(0.25), {});
    await one.clock.advance(10);
    const batched = setup();
    const rs = [0.25, 0.9, 0.05, 0.25].map((v) => batched.p.submit(x(v), {}));
    await batched.clock.advance(10);
    const single = await r1.result;
    const many = await Promise.all(rs.map((s) => s.result));
    expect(many[0]!.exit).toBe(single.exit);
    expect(many[0]!.confidence).toBeCloseTo(single.confidence, 6);
    expect(many[3]!.classIndex).toBe(single.classIndex);
  });

  it("honours a fixed exit even when an earlier exit is confident", async () => {
    const { p, clock } = setup();
    const s = p.submit(x(0.9), { fixedExit: 2 });
    await clock.advance(10);
    const r = await s.result;
    expect(r.exit).toBe(2);
    expect(r.reason).toBe("fixed");
  });

  it("caps the exit at the deepest one the FLOPs budget affords (an unaffordable one is a caller's bug)", async () => {
    const { p, clock } = setup();
    const s = p.submit(x(0.0), { flopsBudget: 30 });
    await clock.advance(10);
    const r = await s.result;
    expect([r.exit, r.reason, r.flops]).toEqual([1, "budget", 25]);
    const bad = p.submit(x(0.5), { flopsBudget: 5 });
    await expect(bad.result).rejects.toThrow(/under the first exit's cost/);
  });

  it("refuses admission when the queued batches would take longer than maxQueueWaitMs, and admits again once they ran", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 2, maxQueueWaitMs: 25 });
    runner.batchMs = 10;
    expect(p.estimatedWaitMs()).toBe(0); // nothing measured yet: admission by queue size only
    const first = p.submit(x(0.5), {});
    await clock.advance(20);
    await first.result;
    expect(p.estimatedWaitMs()).toBe(0); // nothing queued: nothing to wait behind
    // 2 start running at once; then 4 wait (2 batches, 20 ms + own batch); the 7th would wait 30 ms
    const subs = Array.from({ length: 8 }, () => p.submit(x(0.5), {}));
    const settled = subs.map((s) =>
      s.result.then(
        () => "ok",
        (e: ServingError) => e.kind,
      ),
    );
    await clock.advance(100);
    expect(await Promise.all(settled)).toEqual(["ok", "ok", "ok", "ok", "ok", "ok", "resource_exhausted", "resource_exhausted"]);
    await expect(subs[6]!.result).rejects.toThrow(/about 30 ms \(limit maxQueueWaitMs 25 ms\)/);
    expect(p.inflightCount).toBe(0);
    const again = p.submit(x(0.5), {});
    await clock.advance(20);
    await expect(again.result).resolves.toMatchObject({ exit: 0 });
  });

  it("admits into an empty queue even after a batch slower than maxQueueWaitMs", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 2, maxQueueWaitMs: 25 });
    runner.batchMs = 100; // one very slow batch (a hiccup)
    const slow = p.submit(x(0.5), {});
    await clock.advance(200);
    await slow.result;
    expect(p.estimatedWaitMs()).toBe(0); // idle: no queue to wait behind
    runner.batchMs = 5;
    const next = p.submit(x(0.5), {}); // nothing queued ahead: admitted, and it refreshes the estimate
    await clock.advance(20);
    await expect(next.result).resolves.toMatchObject({ exit: 0 });
  });

  it("admits by queue size only when maxQueueWaitMs is 0", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 2, maxQueueWaitMs: 0 });
    runner.batchMs = 10;
    const warm = p.submit(x(0.5), {});
    await clock.advance(20);
    await warm.result;
    const subs = Array.from({ length: 20 }, () => p.submit(x(0.5), {}));
    await clock.advance(200);
    const rs = await Promise.all(subs.map((s) => s.result));
    expect(rs).toHaveLength(20);
  });

  it("refuses admission with resource_exhausted when the first queue is full", async () => {
    const { p } = setup([0.99, 0.99, 0], { maxQueueSize: 2, maxBatchSize: 8 });
    p.submit(x(0.5), {});
    p.submit(x(0.5), {});
    const third = p.submit(x(0.5), {});
    await expect(third.result).rejects.toMatchObject({ kind: "resource_exhausted" });
    expect(p.inflightCount).toBe(2);
  });

  it("on deadline answers anytime requests with the deepest computed exit, fails the others", async () => {
    const { p, clock, runner } = setup();
    let releaseStage1: () => void = () => {};
    const orig = runner.runStage.bind(runner);
    runner.runStage = async (stage, feeds) => {
      if (stage === 1) await new Promise<void>((r) => (releaseStage1 = r));
      return orig(stage, feeds);
    };
    const anytime = p.submit(x(0.0), { anytime: true, deadlineMs: 20 });
    const strict = p.submit(x(0.0), { deadlineMs: 20 });
    await clock.advance(25);
    const r = await anytime.result;
    expect([r.exit, r.reason]).toEqual([0, "deadline"]);
    await expect(strict.result).rejects.toMatchObject({ kind: "deadline_exceeded" });
    releaseStage1();
    await flush();
    expect(p.inflightCount).toBe(0);
  });

  it("a cancelled request leaves its queue and frees its slot", async () => {
    const { p, clock, runner } = setup();
    const s = p.submit(x(0.5), {});
    s.cancel();
    await expect(s.result).rejects.toBeInstanceOf(ServingError);
    await clock.advance(10);
    expect(runner.calls).toEqual([]);
    expect(p.inflightCount).toBe(0);
  });

  it("a failing stage fails only that batch, with internal", async () => {
    const { p, clock, runner } = setup();
    runner.failStage = 1;
    const early = p.submit(x(0.9), {});
    const late = p.submit(x(0.0), {});
    await clock.advance(10);
    expect((await early.result).exit).toBe(0);
    await expect(late.result).rejects.toMatchObject({ kind: "internal", message: expect.stringContaining("stage 2 failed") });
    runner.failStage = -1;
    const after = p.submit(x(0.0), {});
    await clock.advance(10);
    expect((await after.result).exit).toBe(2);
  });

  it("a batch whose inputs cannot be gathered fails with internal instead of staying in the pipeline", async () => {
    const clock = new FakeClock();
    const broken: PipelineModel = { ...model, stages: [model.stages[0]!, { inputs: ["nowhere"], outputs: ["logits"] }], exitFlops: [10, 25] };
    const p = new Pipeline(broken, new HostKeepingRunner(new ToyRunner(clock)), new StaticExitPolicy([0.99, 0]), {
      maxBatchSize: 8,
      maxQueueDelayMs: 1,
      maxQueueSize: 10,
      clock,
      log: pino({ level: "silent" }),
    });
    const s = p.submit(x(0.0), {});
    await clock.advance(10);
    await expect(s.result).rejects.toMatchObject({ kind: "internal", message: expect.stringContaining("stage 2 failed") });
    expect(p.inflightCount).toBe(0);
  });

  it("drain refuses new work and waits for admitted requests", async () => {
    const { p, clock } = setup();
    const s = p.submit(x(0.0), {});
    let drained = false;
    const d = p.drain().then(() => (drained = true));
    const refused = p.submit(x(0.5), {});
    await expect(refused.result).rejects.toMatchObject({ kind: "unavailable" });
    expect(drained).toBe(false);
    await clock.advance(10);
    await s.result;
    await d;
    expect(drained).toBe(true);
  });

  it("tells the exit policy each first-exit score, each decision to go on (charged at once) and what the answer or withdrawal leaves", async () => {
    const { p, clock } = setup();
    const calls: string[] = [];
    const policy = (p as unknown as { policy: StaticExitPolicy }).policy;
    policy.exitScored = (e: number) => void calls.push(`scored ${e}`);
    policy.advanced = (e: number) => {
      calls.push(`advanced ${e}`);
      return 7; // the policy's charge: handed back at the answer
    };
    policy.observe = (a) => void calls.push(`observe exit ${a.exit} ${a.flops} charged ${a.chargedFlops} ${a.path}`);
    policy.withdrawn = (charged: number) => void calls.push(`withdrawn ${charged}`);
    const deep = p.submit(x(0.05), {}); // leaves at exit 3
    await clock.advance(10);
    await deep.result;
    expect(calls).toEqual(["scored 0", "advanced 0", "scored 1", "advanced 1", "scored 2", "observe exit 2 40 charged 14 staged"]);
    calls.length = 0;
    const cancelled = p.submit(x(0.05), {});
    await clock.advance(1); // stage 1 ran; it waits for stage 2
    await flush();
    cancelled.cancel();
    await expect(cancelled.result).rejects.toThrow(/cancelled/);
    expect(calls).toEqual(["scored 0", "advanced 0", "withdrawn 7"]);
    const fixed = p.submit(x(0.05), { fixedExit: 1 });
    calls.length = 0;
    await clock.advance(10);
    await fixed.result;
    expect(calls).toEqual(["advanced 0", "observe exit 1 25 charged 7 staged"]); // a fixed exit is charged but not scored for the difficulty estimate
  });

  it("work-conserving: a lone request runs at once on an idle engine; a freed worker takes the deepest waiting batch", async () => {
    const clock = new FakeClock();
    const runner = new ToyRunner(clock); // the pipeline's own scheduler: one worker, one slot
    runner.batchMs = 3;
    const p = new Pipeline(model, new HostKeepingRunner(runner), new StaticExitPolicy([0.99, 0.99, 0]), {
      maxBatchSize: 8,
      maxQueueDelayMs: 50, // longer than the test: only the idle engine starts partial batches here
      maxQueueSize: 100,
      clock,
      log: pino({ level: "silent" }),
    });
    const first = p.submit(x(0.05), {}); // goes through all three stages
    await flush();
    expect(runner.calls).toEqual([{ stage: 0, n: 1 }]); // no wait for a fuller batch
    await clock.advance(1);
    const later = [p.submit(x(0.05), {}), p.submit(x(0.05), {})]; // the worker is busy: they wait
    await clock.advance(9);
    await first.result;
    // the first request's deeper stages went before the waiting first-stage batch; that ran when the worker freed up
    expect(runner.calls).toEqual([
      { stage: 0, n: 1 },
      { stage: 1, n: 1 },
      { stage: 2, n: 1 },
      { stage: 0, n: 2 },
    ]);
    await clock.advance(10);
    expect((await Promise.all(later.map((l) => l.result))).map((r) => r.exit)).toEqual([2, 2]);
    await p.drain();
  });

  it("keeps lower levels' batches at yieldBatchSize while a higher level is active, and fills them again a second after", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 8, yieldBatchSize: 2 });
    runner.batchMs = 10;
    const sizes = () => runner.calls.map((c) => c.n);
    const batchOf = (priority: number, n: number) => Array.from({ length: n }, () => p.submit(x(0.5), { priority }).result);
    await Promise.all([...batchOf(2, 8), clock.advance(20)]);
    expect(sizes()).toEqual([8]); // no higher level seen: a full batch
    const high = batchOf(1, 1);
    const low = batchOf(2, 8);
    await clock.advance(100);
    await Promise.all([...high, ...low]);
    expect(sizes().slice(1)).toEqual([2, 2, 2, 2, 1]); // level 1 with one of level 2, then level 2 two at a time
    await clock.advance(1000);
    await Promise.all([...batchOf(2, 8), clock.advance(20)]);
    expect(sizes().at(-1)).toBe(8); // level 1 quiet for a second: full batches again
  });

  it("admits and runs higher priority levels first: under a long queue level 1 is admitted while level 2 is refused", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 2, maxQueueWaitMs: 25 });
    runner.batchMs = 10;
    const warm = p.submit(x(0.5), { priority: 2 });
    await clock.advance(20);
    await warm.result;
    const order: number[] = [];
    const submit = (priority: number, tag: number) => {
      const sub = p.submit(x(0.5), { priority });
      return sub.result.then(
        () => void order.push(tag),
        (e: ServingError) => e.kind,
      );
    };
    // level 2 fills the queue until its estimated wait passes 25 ms (as in the test above)
    const low = Array.from({ length: 8 }, (_, i) => submit(2, 200 + i));
    const high = [submit(1, 100), submit(1, 101)];
    await clock.advance(200);
    const lowCodes = await Promise.all(low);
    expect(lowCodes.filter((c) => c === "resource_exhausted").length).toBeGreaterThan(0);
    expect(await Promise.all(high)).toEqual([undefined, undefined]); // neither refused
    // the two level-1 requests ran in the first batch after the one already running
    expect(order.indexOf(100)).toBeLessThan(order.indexOf(202));
    expect(order.indexOf(101)).toBeLessThan(order.indexOf(202));
    expect(p.estimatedWaitMs({ priority: 1 })).toBe(0);
  });

  it("rejects a request still waiting for the first stage at its queue timeout (UNAVAILABLE), or with delay puts it behind the others", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 1 });
    runner.batchMs = 50;
    const running = p.submit(x(0.5), { priority: 1 }); // a batch of one: runs at once, for 50 ms
    const rejected = p.submit(x(0.5), { priority: 1, queueTimeoutMs: 20, queueTimeoutAction: "reject" });
    const delayed = p.submit(x(0.5), { priority: 1, queueTimeoutMs: 20, queueTimeoutAction: "delay" });
    const order: string[] = [];
    const normal = p.submit(x(0.5), { priority: 2 });
    void delayed.result.then(() => order.push("delayed"));
    void normal.result.then(() => order.push("normal"));
    await clock.advance(25);
    await expect(rejected.result).rejects.toMatchObject({ kind: "unavailable", message: expect.stringMatching(/queue timeout \(20 ms at priority level 1\)/) });
    await clock.advance(300);
    await running.result;
    // the delayed level-1 request now runs after the level-2 one that had not timed out
    expect(order).toEqual(["normal", "delayed"]);
    expect(p.inflightCount).toBe(0);
  });

  it("does not time out a request that already started", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 1 });
    runner.batchMs = 50;
    const started = p.submit(x(0.5), { priority: 1, queueTimeoutMs: 20, queueTimeoutAction: "reject" });
    await clock.advance(100);
    await expect(started.result).resolves.toMatchObject({ exit: 0 });
  });

  it("refuses a tenant's request once its requests hold their maxQueueShare of the first queue; others are admitted", async () => {
    const { p, clock, runner } = setup([0, 0, 0], { maxBatchSize: 1, maxQueueSize: 100 });
    runner.batchMs = 50;
    const gold = { tenant: "gold", tenantQueueShare: 0.02 }; // 2 of 100
    const first = p.submit(x(0.5), gold); // runs at once: no longer waiting
    const waiting = [p.submit(x(0.5), gold), p.submit(x(0.5), gold)];
    const refused = p.submit(x(0.5), gold);
    await expect(refused.result).rejects.toMatchObject({
      kind: "resource_exhausted",
      message: "tenant 'gold' already has 2 requests waiting (its maxQueueShare 0.02 of 100); retry with backoff",
    });
    const other = p.submit(x(0.5), { tenant: "silver", tenantQueueShare: 0.02 });
    await clock.advance(60); // the first ran; one of gold's left the queue
    const again = p.submit(x(0.5), gold);
    await clock.advance(500);
    await Promise.all([first.result, ...waiting.map((w) => w.result), other.result, again.result]);
    expect(p.inflightCount).toBe(0);
  });
});
