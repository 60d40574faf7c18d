/**
 * Exits decided in the engine (PipelineOptions.decideInEngine): a batch of the second stage runs
 * through the stages its requests need where their tensors are, the first exit still decided
 * here. Same answers as the stage-by-stage path, the policy told every decision, every request
 * settled whatever throws, and nothing left charged on the board.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { BudgetController } from "../../src/budget/BudgetController.js";
import { HostKeepingRunner } from "../../src/engine/HostKeepingRunner.js";
import { EngineWorkerStopped } from "../../src/engine/StageRunner.js";
import { type ExitPolicy, StaticExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import { type ClassifyResult, Pipeline, type RequestOptions } from "../../src/pipeline/Pipeline.js";
import { LEVEL_ACTIVE_MS, Scheduler } from "../../src/scheduler/Scheduler.js";
import { SchedulerLoop } from "../../src/scheduler/SchedulerLoop.js";
import { makeScorer, type ScoreRule } from "../../src/scoring/exitScorers.js";
import { FakeClock } from "../support/FakeClock.js";
import { model, ToyRunner } from "../support/toyPipeline.js";

const x = (v: number) => Float32Array.of(v);
const values = Array.from({ length: 40 }, (_, i) => (i * 0.37) % 1);

function setup(o: { engine: boolean | "auto"; policy?: ExitPolicy; rule?: ScoreRule; workers?: number }) {
  const clock = new FakeClock();
  const toy = new ToyRunner(clock);
  const runner = new HostKeepingRunner(toy);
  const chains: number[] = [];
  const runChain = runner.runChain.bind(runner);
  runner.runChain = (m, batch, rules, opts) => {
    chains.push(rules.stage);
    return runChain(m, batch, rules, opts);
  };
  const policy = o.policy ?? new StaticExitPolicy([0.97, 0.995, 0]);
  const loop = new SchedulerLoop(new Scheduler({ workers: o.workers ?? 1 }), clock);
  const p = new Pipeline(model, runner, policy, {
    maxBatchSize: 8,
    maxQueueDelayMs: 1,
    maxQueueSize: 100,
    scheduling: { loop, model: "toy" },
    clock,
    log: pino({ level: "silent" }),
    scorer: makeScorer(o.rule ?? "max-softmax", [1.5, 2, 0.5]),
    decideInEngine: o.engine,
  });
  const outcomes = async (xs: number[], opts: RequestOptions = {}) => {
    const subs = xs.map((v) => p.submit(x(v), opts));
    await clock.advance(50);
    return Promise.all(
      subs.map((s) =>
        s.result.then(
          (r) => r,
          (e: { kind: string }) => e.kind,
        ),
      ),
    );
  };
  return { p, clock, toy, runner, policy, chains, outcomes, loop };
}

const comparable = (r: ClassifyResult | string) => (typeof r === "string" ? r : { ...r, probabilities: [...r.probabilities], queueMs: 0, computeMs: 0 });

describe("Pipeline with exits decided in the engine", () => {
  for (const rule of ["max-softmax", "temperature", "ensemble"] as const) {
    it(`answers as the stage-by-stage path does (${rule}): exits, classes, confidences, probabilities, every exit's prediction`, async () => {
      const here = await setup({ engine: false, rule }).outcomes(values, { returnAllExits: true });
      const engine = setup({ engine: true, rule });
      const there = await engine.outcomes(values, { returnAllExits: true });
      expect(there.map(comparable)).toEqual(here.map(comparable));
      expect(new Set(there.map((r) => (r as ClassifyResult).exit)).size).toBeGreaterThan(1); // some leave early, some go on
      expect(engine.chains.length).toBeGreaterThan(0);
      expect(engine.chains.every((stage) => stage === 1)).toBe(true); // the first exit is decided here
    });
  }

  it("runs the later stages of a forwarded batch back to back: one chain instead of a batch per stage", async () => {
    const here = setup({ engine: false });
    await here.outcomes(values);
    const engine = setup({ engine: true });
    await engine.outcomes(values);
    const stagesRun = (calls: { stage: number }[], k: number) => calls.filter((c) => c.stage === k).length;
    expect(stagesRun(engine.toy.calls, 0)).toBe(stagesRun(here.toy.calls, 0));
    expect(engine.chains.length).toBe(stagesRun(engine.toy.calls, 1));
    expect(engine.runner.keptBlocks).toBe(0);
  });

  it("requests with anytime go stage by stage (they answer mid-chain at their deadline)", async () => {
    const engine = setup({ engine: true });
    const out = await engine.outcomes(values, { anytime: true });
    expect(out.every((r) => typeof r !== "string")).toBe(true);
    expect(engine.chains).toEqual([]);
  });

  it("fixed exits and FLOPs budgets cap the chain as they cap the stage-by-stage path", async () => {
    const engine = setup({ engine: true, policy: new StaticExitPolicy([1.1, 1.1, 0]) });
    const fixed = await engine.outcomes(values.slice(0, 8), { fixedExit: 1 });
    expect(fixed.map((r) => [(r as ClassifyResult).exit, (r as ClassifyResult).reason])).toEqual(Array(8).fill([1, "fixed"]));
    const budget = await engine.outcomes(values.slice(0, 8), { flopsBudget: 30 });
    expect(budget.map((r) => [(r as ClassifyResult).exit, (r as ClassifyResult).reason])).toEqual(Array(8).fill([1, "budget"]));
  });

  it("auto: in the engine for fixed thresholds and a controller at up to half the last exit's FLOPs, here above that; a target change moves it", async () => {
    const fixedThresholds = setup({ engine: "auto" });
    await fixedThresholds.outcomes(values);
    expect(fixedThresholds.chains.length).toBeGreaterThan(0);

    const controller = (targetFlops: number) => new BudgetController({ exitFlops: model.exitFlops, baseThresholds: [0.9, 0.95], targetFlops });
    const half = setup({ engine: "auto", policy: controller(20) }); // 50% of the last exit's 40
    await half.outcomes(values);
    expect(half.chains.length).toBeGreaterThan(0);

    const high = controller(28); // 70%
    const above = setup({ engine: "auto", policy: high });
    const out = await above.outcomes(values);
    expect(out.every((r) => typeof r !== "string")).toBe(true);
    expect(above.chains).toEqual([]);
    // requests with a fixed exit do not read the thresholds: they never keep a batch here
    await above.outcomes(values.slice(0, 8), { fixedExit: 2 });
    expect(above.chains.length).toBeGreaterThan(0);

    above.chains.length = 0;
    high.setTarget(16);
    await above.outcomes(values);
    expect(above.chains.length).toBeGreaterThan(0);
    expect(above.p.inflightCount).toBe(0);
  });

  it("auto: stage by stage while another model's requests share the engine (a chain would hold a worker slot they wait for)", async () => {
    const shared = setup({ engine: "auto" });
    const other = shared.loop.addQueue<string>({
      model: "other",
      depthOrder: 0,
      maxBatchSize: 8,
      maxQueueDelayMs: 1,
      dispatchWhenIdle: true,
      run: async () => {},
    });
    shared.loop.enqueue(other, ["x"]);
    const out = await shared.outcomes(values);
    expect(out.every((r) => typeof r !== "string")).toBe(true);
    expect(shared.chains).toEqual([]);
    await shared.clock.advance(LEVEL_ACTIVE_MS); // the other model quiet for a while: chains again
    await shared.outcomes(values);
    expect(shared.chains.length).toBeGreaterThan(0);
  });

  it("under the budget controller: every charge leaves when its request answers, here and on the board", async () => {
    const controller = new BudgetController({ exitFlops: model.exitFlops, baseThresholds: [0.9, 0.95], targetFlops: 20 });
    const engine = setup({ engine: true, policy: controller, workers: 2 });
    const out = await engine.outcomes(values);
    expect(out.every((r) => typeof r !== "string")).toBe(true);
    expect(engine.chains.length).toBeGreaterThan(0);
    expect(controller.pendingFlops).toBeCloseTo(0, 6);
    expect(controller.runningFlops).toBe(0);
    expect(engine.p.inflightCount).toBe(0);
  });

  it("a stage that throws inside a chain: its requests answer INTERNAL, the first exit's answers stand, nothing stays charged or kept", async () => {
    const controller = new BudgetController({ exitFlops: model.exitFlops, baseThresholds: [0.9, 0.95], targetFlops: 20 });
    const engine = setup({ engine: true, policy: controller });
    engine.toy.failStage = 2;
    const out = await engine.outcomes(values);
    const kinds = new Set(out.map((r) => (typeof r === "string" ? r : `exit ${r.exit}`)));
    expect(kinds).toEqual(new Set(["exit 0", "internal"]));
    expect(controller.pendingFlops).toBeCloseTo(0, 6);
    expect(controller.runningFlops).toBe(0);
    expect(engine.p.inflightCount).toBe(0);
    expect(engine.runner.keptBlocks).toBe(0);
  });

  it("the engine worker stops under a chain: UNAVAILABLE (retryable), and later requests are served", async () => {
    const engine = setup({ engine: true });
    const run = engine.toy.runStage.bind(engine.toy);
    let stop = true;
    engine.toy.runStage = async (stage, feeds, opts) => {
      if (stage === 2 && stop) {
        stop = false;
        throw new EngineWorkerStopped("engine worker stopped: exit code 1");
      }
      return run(stage, feeds, opts);
    };
    const first = await engine.outcomes(values);
    expect(first).toContain("unavailable");
    const again = await engine.outcomes(values);
    expect(again.every((r) => typeof r !== "string")).toBe(true);
  });

  it("a request cancelled while its chain runs is answered CANCELLED; the rest of the chain answers", async () => {
    const engine = setup({ engine: true });
    engine.toy.batchMs = 5;
    const subs = values.slice(0, 8).map((v) => engine.p.submit(x(v), {}));
    await engine.clock.advance(7); // stage 1 ran; the chain of the forwarded ones is running
    expect(engine.chains.length).toBe(1);
    const forwarded = subs[values.slice(0, 8).findIndex((v) => v < 0.1)]!;
    forwarded.cancel();
    await engine.clock.advance(50);
    const out = await Promise.all(
      subs.map((s) =>
        s.result.then(
          (r) => r.exit,
          (e: { kind: string }) => e.kind,
        ),
      ),
    );
    expect(out.filter((r) => r === "cancelled")).toHaveLength(1);
    expect(engine.p.inflightCount).toBe(0);
  });
});
