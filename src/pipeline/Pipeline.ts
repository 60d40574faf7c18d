import type { Logger } from "pino";
import { ServingError } from "../core/errors.js";
import type { HostTensor, StageRunner } from "../engine/StageRunner.js";
import { lastReaders } from "../format/manifest.js";
import { type ExitScorer, makeScorer } from "../scoring/exitScorers.js";
import { Batcher } from "./Batcher.js";
import { gatherRows, ownRow } from "./carriedTensors.js";
import { EntryAdmission } from "./EntryAdmission.js";
import type { ExitPolicy } from "./ExitPolicy.js";
import { predictAt, predictEvery } from "./exitPrediction.js";
import type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission } from "./pipelineTypes.js";
import { maxExitFor, rejected, type Sample } from "./Sample.js";

export type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission };

/**
 * Staged early-exit execution with one dynamic batcher per stage: samples that are not
 * confident enough after stage k join stage k+1's queue with their carried tensors.
 */
export class Pipeline {
  private readonly batchers: Batcher<Sample>[];
  private readonly lastReader: Map<string, number>;
  private readonly perSampleDims = new Map<string, number[]>();
  private inflight = 0;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly scorer: ExitScorer;
  /** Admission to the entry queues: stage 1's, and the fused graph's. */
  private readonly admission: EntryAdmission;
  /** Index of the fused whole-network batcher (after the stages), if the model has one. */
  private readonly fusedStage: number | undefined;

  constructor(
    private readonly model: PipelineModel,
    private readonly runner: StageRunner,
    private readonly policy: ExitPolicy,
    private readonly opts: PipelineOptions,
  ) {
    this.log = opts.log;
    this.scorer = opts.scorer ?? makeScorer("max-softmax", []);
    this.lastReader = lastReaders(model);
    this.perSampleDims.set(model.inputName, [...model.inputShape]);
    this.fusedStage = model.fused ? model.stages.length : undefined;
    const programs = model.fused ? [...model.stages, model.fused] : model.stages;
    const entries = this.fusedStage === undefined ? [0] : [0, this.fusedStage];
    this.admission = new EntryAdmission(
      entries,
      {
        maxBatchSize: opts.maxBatchSize,
        parallelBatches: opts.maxInflightBatches ?? 1,
        maxQueueSize: opts.maxQueueSize,
        maxQueueSizeByLevel: opts.maxQueueSizeByLevel,
        maxQueueWaitMs: opts.maxQueueWaitMs ?? 0,
      },
      (k) => this.batchers[k]!,
      (k) => (k === this.fusedStage ? "the fused path's" : `stage ${k + 1}`),
    );
    const idle = opts.dispatchWhenIdle !== false && runner.hasIdleWorker ? () => runner.hasIdleWorker!() : undefined;
    this.batchers = programs.map((_, k) => {
      const entry = entries.includes(k);
      return new Batcher<Sample>({
        maxBatchSize: opts.maxBatchSize,
        maxQueueDelayMs: opts.maxQueueDelayMs,
        maxQueueSize: entry ? opts.maxQueueSize : Number.POSITIVE_INFINITY,
        maxInflightBatches: opts.maxInflightBatches,
        clock: opts.clock,
        runnerIdle: idle,
        rank: (s) => s.rank,
        run: (batch) => this.runBatch(k, batch),
      });
    });
  }

  /** Where a request enters: the fused graph when it must reach the last exit anyway (a fixed last exit, not anytime), else stage 1. */
  private entryOf(opts: RequestOptions): number {
    return this.fusedStage !== undefined && opts.fixedExit === this.exits - 1 && !opts.anytime ? this.fusedStage : 0;
  }

  get exits(): number {
    return this.model.exitFlops.length;
  }

  get inflightCount(): number {
    return this.inflight;
  }

  /** How long a request admitted now would wait for its first answer (see AdmissionEstimate); the longer of the entry queues without `opts`. */
  estimatedWaitMs(opts?: RequestOptions): number {
    return this.admission.waitMs(opts && this.entryOf(opts), opts?.priority ?? 0);
  }

  /** Why a request arriving now would be refused (shutting down, or its queue too long), or undefined; cheap, asked before decoding. */
  admissionError(opts: RequestOptions = {}): ServingError | undefined {
    if (this.closed) return new ServingError("unavailable", "server is shutting down; retry on another replica");
    return this.admission.refusal(this.entryOf(opts), opts.priority ?? 0);
  }

  /** Admits one preprocessed input (the model's input layout, without the batch axis). */
  submit(input: Float32Array, opts: RequestOptions): Submission {
    let maxExit: number;
    try {
      maxExit = maxExitFor(this.model.exitFlops, opts);
    } catch (err) {
      return rejected(err as Error);
    }
    const refusal = this.admissionError(opts);
    if (refusal) return rejected(refusal);
    const entry = this.entryOf(opts);
    let sample!: Sample;
    const result = new Promise<ClassifyResult>((resolve, reject) => {
      sample = {
        tensors: new Map([[this.model.inputName, ownRow(input, this.model.inputShape)]]),
        maxExit,
        fixed: opts.fixedExit !== undefined && opts.fixedExit <= maxExit,
        opts,
        predictions: [],
        settled: false,
        rank: opts.priority ?? 0,
        stage: entry,
        timer: undefined,
        enqueuedAtMs: this.opts.clock.now(),
        queueMs: 0,
        computeMs: 0,
        chargedFlops: 0,
        resolve,
        reject,
      };
    });
    if (!this.batchers[entry]!.offer(sample)) return rejected(this.admission.full(entry));
    this.inflight++;
    this.opts.hooks?.queueDepth?.(entry, this.batchers[entry]!.depth);
    if (opts.deadlineMs !== undefined && Number.isFinite(opts.deadlineMs)) {
      const delay = Math.max(0, opts.deadlineMs - this.opts.clock.now());
      sample.timer = this.opts.clock.setTimer(() => this.onDeadline(sample), delay);
    }
    return { result, cancel: () => this.withdraw(sample, new ServingError("cancelled", "request cancelled by the client")) };
  }

  /** Refuses new work and resolves when every admitted request has been answered. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private onDeadline(s: Sample): void {
    s.timer = undefined;
    if (s.settled) return;
    const best = s.predictions[s.predictions.length - 1];
    if (s.opts.anytime && best && s.lastProbs) {
      const batcher = this.batchers[s.stage];
      if (batcher?.remove(s)) this.opts.hooks?.queueDepth?.(s.stage, batcher.depth);
      this.finish(s, best, s.lastProbs, "deadline");
    } else {
      this.opts.hooks?.dropped?.("deadline");
      this.withdraw(
        s,
        new ServingError(
          "deadline_exceeded",
          `deadline passed after ${s.predictions.length} of ${this.exits} exits` +
            (s.predictions.length ? "; set options.anytime to get the deepest exit computed" : ""),
        ),
      );
    }
  }

  private withdraw(s: Sample, err: ServingError): void {
    if (s.settled) return;
    if (err.kind === "cancelled") this.opts.hooks?.dropped?.("cancelled");
    const batcher = this.batchers[s.stage];
    if (batcher?.remove(s)) this.opts.hooks?.queueDepth?.(s.stage, batcher.depth);
    this.settle(s);
    s.reject(err);
  }

  /** Takes `s` out of the pipeline; unless it is being answered, the exit policy forgets what it charged for it. */
  private settle(s: Sample, answered = false): void {
    s.settled = true;
    if (!answered && s.chargedFlops > 0) this.policy.withdrawn(s.chargedFlops);
    s.tensors.clear();
    if (s.timer !== undefined) this.opts.clock.clearTimer(s.timer);
    this.inflight--;
    if (this.inflight === 0)
      this.drainWaiters.splice(0).forEach((w) => {
        w();
      });
  }

  private finish(s: Sample, p: ExitPrediction, probs: Float32Array, reason: ExitReason): void {
    this.settle(s, true);
    this.policy.observe(p.flops, s.chargedFlops);
    this.opts.hooks?.exitTaken?.(p.exit, p.flops);
    s.resolve({ ...p, probabilities: probs, reason, exits: s.opts.returnAllExits ? s.predictions : [], queueMs: s.queueMs, computeMs: s.computeMs });
  }

  private async runBatch(k: number, all: Sample[]): Promise<void> {
    const batch = all.filter((s) => !s.settled);
    const depth = this.batchers[k]!.depth;
    if (this.admission.isEntry(k)) this.admission.recordDispatch(k, this.opts.clock.now(), all.length, depth);
    this.opts.hooks?.queueDepth?.(k, depth);
    if (batch.length === 0) return;
    try {
      await this.runAndRoute(k, batch);
    } finally {
      // the worker that ran it may be idle now: it takes the deepest waiting batch, full or not
      for (let j = this.batchers.length - 1; j >= 0; j--) this.batchers[j]!.poke();
    }
  }

  /** Runs stage k on the batch, then answers or forwards each sample (scatter), or fails the batch. */
  private async runAndRoute(k: number, batch: Sample[]): Promise<void> {
    const stage = k === this.fusedStage ? this.model.fused! : this.model.stages[k]!;
    const feeds: Record<string, HostTensor> = {};
    for (const name of stage.inputs) feeds[name] = this.gather(name, batch);
    const t0 = this.opts.clock.now();
    for (const s of batch) s.queueMs += t0 - s.enqueuedAtMs;
    let out: Record<string, HostTensor>;
    try {
      out = await this.runner.runStage(k, feeds, { transferInputs: true, priority: Math.min(...batch.map((s) => s.rank)) }); // feeds made for it
    } catch (err) {
      this.log.error({ stage: k + 1, batch: batch.length, err }, "stage run failed; failing its batch");
      for (const s of batch) {
        if (s.settled) continue;
        this.settle(s);
        s.reject(new ServingError("internal", `stage ${k + 1} failed: ${(err as Error).message}`));
      }
      return;
    }
    const seconds = (this.opts.clock.now() - t0) / 1000;
    for (const s of batch) s.computeMs += seconds * 1000;
    if (this.admission.isEntry(k)) {
      this.admission.recordBatch(k, seconds * 1000);
      this.opts.stats?.batchRan(batch.length, seconds);
    }
    this.opts.hooks?.batchRun?.(k, batch.length, seconds);
    this.log.debug({ stage: k === this.fusedStage ? "fused" : k + 1, batch: batch.length, ms: seconds * 1000 }, "batch ran");
    if (k === this.fusedStage) this.finishFused(batch, out);
    else this.scatter(k, batch, out);
  }

  /** The batch tensor of `name`: a whole block passed on as it is (every one of its rows is in this batch), or rows gathered once. */
  private gather(name: string, batch: Sample[]): HostTensor {
    const dims = this.perSampleDims.get(name);
    if (!dims) throw new Error(`no shape known for tensor '${name}'`);
    return gatherRows(
      batch.map((s) => s.tensors.get(name)!),
      dims,
    );
  }

  /** The fused graph ran every exit at once: each sample gets every exit's prediction and answers from the last. */
  private finishFused(batch: Sample[], out: Record<string, HostTensor>): void {
    batch.forEach((s, i) => {
      if (s.settled) return;
      const { predictions, probs } = predictEvery(this.scorer, out, i, this.model.classes, this.model.exitFlops);
      s.predictions.push(...predictions);
      this.finish(s, predictions[predictions.length - 1]!, probs, "fixed");
    });
  }

  private scatter(k: number, batch: Sample[], out: Record<string, HostTensor>): void {
    const logits = out.logits;
    if (!logits) throw new Error(`stage ${k + 1} returned no logits`);
    const classes = this.model.classes;
    const carried = this.model.stages[k]!.outputs.filter((n) => n !== "logits" && (this.lastReader.get(n) ?? -1) > k);
    for (const name of carried) this.perSampleDims.set(name, out[name]!.dims.slice(1) as number[]);
    const next = this.batchers[k + 1];
    const moving: Sample[] = [];
    batch.forEach((s, i) => {
      if (s.settled) return;
      const { probs, prediction: p } = predictAt(this.scorer, k, logits.data, i, classes, s.lastProbs, this.model.exitFlops[k]!);
      s.predictions.push(p);
      s.lastProbs = probs;
      if (!s.fixed) this.policy.exitScored(k, p.confidence);
      if (k >= s.maxExit || !next) {
        const reason: ExitReason = s.fixed ? "fixed" : k === this.exits - 1 ? "last" : "budget";
        this.finish(s, p, probs, reason);
        return;
      }
      // thresholds read per sample: the controller has counted the decisions made before this one
      if (!s.fixed && p.confidence >= this.policy.thresholds()[k]!) {
        this.finish(s, p, probs, "confident");
        return;
      }
      for (const name of s.tensors.keys()) if ((this.lastReader.get(name) ?? -1) <= k) s.tensors.delete(name);
      for (const name of carried) s.tensors.set(name, { block: out[name]!, row: i });
      s.chargedFlops += this.policy.advanced(k);
      s.stage = k + 1;
      s.enqueuedAtMs = this.opts.clock.now();
      moving.push(s);
    });
    if (next) {
      next.enqueueAll(moving);
      this.opts.hooks?.queueDepth?.(k + 1, next.depth);
    }
  }
}
