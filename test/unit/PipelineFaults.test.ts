/**
 * Every admitted request settles whatever throws (each step of a batch: gather, run, score,
 * decide, scatter, answer), kept blocks are released once nothing reads them, and a sample's
 * later stages run on the engine worker that keeps its tensors.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { HostKeepingRunner } from "../../src/engine/HostKeepingRunner.js";
import { EngineWorkerStopped, type HostTensor } from "../../src/engine/StageRunner.js";
import { StaticExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import { Pipeline, type PipelineModel } from "../../src/pipeline/Pipeline.js";
import { Scheduler } from "../../src/scheduler/Scheduler.js";
import { SchedulerLoop } from "../../src/scheduler/SchedulerLoop.js";
import { FakeClock, flush } from "../support/FakeClock.js";
import { model, ToyRunner } from "../support/toyPipeline.js";

const x = (v: number) => Float32Array.of(v);

function setup(o: { workers?: number; thresholds?: number[]; pipelineModel?: PipelineModel; dispatchWhenIdle?: boolean } = {}) {
  const clock = new FakeClock();
  const toy = new ToyRunner(clock);
  const runner = new HostKeepingRunner(toy);
  const policy = new StaticExitPolicy(o.thresholds ?? [0.99, 0.99, 0]);
  const loop = new SchedulerLoop(new Scheduler({ workers: o.workers ?? 1 }), clock);
  const p = new Pipeline(o.pipelineModel ?? model, runner, policy, {
    maxBatchSize: 8,
    maxQueueDelayMs: 1,
    dispatchWhenIdle: o.dispatchWhenIdle,
    maxQueueSize: 100,
    scheduling: { loop, model: "toy" },
    clock,
    log: pino({ level: "silent" }),
  });
  /** Submits values and lets every batch run; resolves with each one's outcome (exit or error kind). */
  const run = async (values: number[], opts = {}) => {
    const subs = values.map((v) => p.submit(x(v), opts));
    await clock.advance(20);
    return Promise.all(
      subs.map((s) =>
        s.result.then(
          (r) => r.exit,
          (e: { kind: string }) => e.kind,
        ),
      ),
    );
  };
  return { p, clock, toy, runner, policy, run };
}

describe("Pipeline: every request settles, whatever throws", () => {
  it("the scoring step throws: the batch's requests are answered INTERNAL, forwarded ones still finish, nothing is left in the pipeline", async () => {
    const { p, policy, run, runner } = setup();
    let scored = 0;
    policy.exitScored = () => {
      if (++scored === 2) throw new Error("score exploded"); // the second sample of the first batch
    };
    // 0.05 goes on (forwarded before the failure), 0.9 fails mid-batch, 0.06 after it
    expect(await run([0.05, 0.9, 0.06])).toEqual([2, "internal", "internal"]);
    expect(p.inflightCount).toBe(0);
    expect(runner.keptBlocks).toBe(0);
  });

  it("the threshold read throws: INTERNAL, nothing left", async () => {
    const { p, policy, run } = setup();
    policy.thresholds = () => {
      throw new Error("no table");
    };
    expect(await run([0.5, 0.5])).toEqual(["internal", "internal"]);
    expect(p.inflightCount).toBe(0);
  });

  it("the answer's bookkeeping throws after the answer: that request keeps its answer, the rest of its batch fails INTERNAL", async () => {
    const { p, policy, run } = setup({ dispatchWhenIdle: false }); // both in one batch
    policy.observe = () => {
      throw new Error("observe exploded");
    };
    const outcomes = await run([0.9, 0.95]);
    expect(outcomes[0]).toBe(0);
    expect(outcomes[1]).toBe("internal");
    expect(p.inflightCount).toBe(0);
  });

  it("a runner that answers without logits: INTERNAL naming the stage", async () => {
    const { p, toy } = setup();
    const run = toy.runStage.bind(toy);
    toy.runStage = async (stage, feeds, opts) => {
      const out = await run(stage, feeds, opts);
      return stage === 1 ? ({ h1: out.h1! } as Record<string, HostTensor>) : out;
    };
    const s = p.submit(x(0.05), {});
    const clock = (p as unknown as { opts: { clock: FakeClock } }).opts.clock;
    await clock.advance(20);
    await expect(s.result).rejects.toMatchObject({ kind: "internal", message: expect.stringContaining("stage 2 returned no logits") });
    expect(p.inflightCount).toBe(0);
  });

  it("the engine worker stops under a batch: UNAVAILABLE (retryable), and later requests are served", async () => {
    const { p, toy, run } = setup();
    const real = toy.runStage.bind(toy);
    toy.runStage = async (stage, feeds, opts) => {
      if (stage === 1) throw new EngineWorkerStopped("engine worker stopped: exit code 1");
      return real(stage, feeds, opts);
    };
    expect(await run([0.05, 0.9])).toEqual(["unavailable", 0]);
    toy.runStage = real;
    expect(await run([0.05])).toEqual([2]);
    expect(p.inflightCount).toBe(0);
  });
});

describe("Pipeline: kept tensors", () => {
  it("releases every kept block once the requests reading it are answered, withdrawn or cancelled", async () => {
    const { p, clock, toy, runner, run } = setup();
    expect(await run([0.9, 0.25, 0.05, 0.05, 0.3])).toEqual([0, 1, 2, 2, 1]);
    expect(runner.keptBlocks).toBe(0);
    // each batch takes 2 ms: one is cancelled after its first stage, the other passes its deadline in its second
    toy.batchMs = 2;
    const cancelled = p.submit(x(0.05), {});
    const late = p.submit(x(0.05), { deadlineMs: clock.now() + 5 });
    await clock.advance(3);
    await flush();
    expect(runner.keptBlocks).toBeGreaterThan(0);
    cancelled.cancel();
    await clock.advance(30);
    await expect(cancelled.result).rejects.toMatchObject({ kind: "cancelled" });
    await expect(late.result).rejects.toMatchObject({ kind: "deadline_exceeded" });
    expect(runner.keptBlocks).toBe(0);
    expect(p.inflightCount).toBe(0);
  });

  it("runs a request's later stages on the worker that ran its first (where its tensors are kept)", async () => {
    const { toy, run } = setup({ workers: 2 });
    expect(await run([0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])).toEqual(Array(10).fill(2));
    const byStage = (k: number) => toy.calls.flatMap((c, i) => (c.stage === k ? [toy.workers[i]] : []));
    expect(new Set(toy.workers).size).toBe(2); // both workers took first stages
    // every stage-2 and stage-3 batch ran where a first-stage batch of its requests had run
    for (const k of [1, 2]) for (const w of byStage(k)) expect(byStage(0)).toContain(w);
  });
});
