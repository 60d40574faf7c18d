import type { Logger } from "pino";
import { ServingError } from "../core/errors.js";
import type { HostTensor, StageRunner } from "../engine/StageRunner.js";
import { lastReaders } from "../format/manifest.js";
import { type ExitScorer, makeScorer } from "../scoring/exitScorers.js";
import { argmax } from "../scoring/softmax.js";
import { AdmissionEstimate } from "./AdmissionEstimate.js";
import { Batcher } from "./Batcher.js";
import { gatherRows, rowOf } from "./carriedTensors.js";
import type { ExitPolicy } from "./ExitPolicy.js";

import type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission } from "./pipelineTypes.js";

export type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission };

interface Sample {
  tensors: Map<string, Float32Array>;
  maxExit: number;
  fixed: boolean;
  opts: RequestOptions;
  predictions: ExitPrediction[];
  lastProbs?: Float32Array;
  settled: boolean;
  stage: number;
  timer: unknown;
  /** When it joined its current stage's queue (pipeline clock), and its queue/run time so far. */
  enqueuedAtMs: number;
  queueMs: number;
  computeMs: number;
  resolve(r: ClassifyResult): void;
  reject(e: Error): void;
}

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
  private readonly admission: AdmissionEstimate;

  constructor(
    private readonly model: PipelineModel,
    private readonly runner: StageRunner,
    private readonly policy: ExitPolicy,
    private readonly opts: PipelineOptions,
  ) {
    this.log = opts.log;
    this.scorer = opts.scorer ?? makeScorer("max-softmax", []);
    this.admission = new AdmissionEstimate(opts.maxBatchSize);
    this.lastReader = lastReaders(model);
    this.perSampleDims.set(model.inputName, [...model.inputShape]);
    this.batchers = model.stages.map(
      (_, k) =>
        new Batcher<Sample>({
          maxBatchSize: opts.maxBatchSize,
          maxQueueDelayMs: opts.maxQueueDelayMs,
          maxQueueSize: k === 0 ? opts.maxQueueSize : Number.POSITIVE_INFINITY,
          clock: opts.clock,
          run: (batch) => this.runBatch(k, batch),
        }),
    );
  }

  get exits(): number {
    return this.model.exitFlops.length;
  }

  get inflightCount(): number {
    return this.inflight;
  }

  /** How long a request admitted now would wait for its first-stage answer (see AdmissionEstimate). */
  estimatedWaitMs(): number {
    return this.admission.waitMs(this.batchers[0]!.depth);
  }

  /** The deepest 0-based exit a request may reach, or an error for an unaffordable budget. */
  maxExitFor(opts: RequestOptions): number {
    let maxExit = this.exits - 1;
    if (opts.fixedExit !== undefined) maxExit = Math.min(maxExit, opts.fixedExit);
    if (opts.flopsBudget !== undefined) {
      const affordable = this.model.exitFlops.filter((f) => f <= opts.flopsBudget!).length - 1;
      // Classifier.options refuses such a budget with INVALID_ARGUMENT naming the protocol's field
      if (affordable < 0) throw new Error(`flopsBudget ${opts.flopsBudget} is under the first exit's cost (requests are validated before submit)`);
      maxExit = Math.min(maxExit, affordable);
    }
    return maxExit;
  }

  /**
   * Why a request arriving now would be refused (shutting down, or the first stage's queue too
   * long), or undefined. Cheap: callers ask before decoding an input, so an overloaded server
   * does not spend the decoding on requests it then refuses.
   */
  admissionError(): ServingError | undefined {
    if (this.closed) return new ServingError("unavailable", "server is shutting down; retry on another replica");
    const maxWaitMs = this.opts.maxQueueWaitMs ?? 0;
    if (maxWaitMs > 0) {
      const waitMs = this.estimatedWaitMs();
      if (waitMs > maxWaitMs) {
        return new ServingError(
          "resource_exhausted",
          `overloaded: the first stage's queue would delay this request about ${Math.round(waitMs)} ms (limit maxQueueWaitMs ${maxWaitMs} ms); retry with backoff`,
        );
      }
    }
    if (this.batchers[0]!.depth >= this.opts.maxQueueSize) {
      return new ServingError("resource_exhausted", `stage 1 queue is full (${this.opts.maxQueueSize} waiting requests); retry with backoff`);
    }
    return undefined;
  }

  /** Admits one preprocessed input (the model's input layout, without the batch axis). */
  submit(input: Float32Array, opts: RequestOptions): Submission {
    let maxExit: number;
    try {
      maxExit = this.maxExitFor(opts);
    } catch (err) {
      return rejected(err as Error);
    }
    const refusal = this.admissionError();
    if (refusal) return rejected(refusal);
    let sample!: Sample;
    const result = new Promise<ClassifyResult>((resolve, reject) => {
      sample = {
        tensors: new Map([[this.model.inputName, input]]),
        maxExit,
        fixed: opts.fixedExit !== undefined && opts.fixedExit <= maxExit,
        opts,
        predictions: [],
        settled: false,
        stage: 0,
        timer: undefined,
        enqueuedAtMs: this.opts.clock.now(),
        queueMs: 0,
        computeMs: 0,
        resolve,
        reject,
      };
    });
    if (!this.batchers[0]!.offer(sample)) {
      return rejected(new ServingError("resource_exhausted", `stage 1 queue is full (${this.opts.maxQueueSize} waiting requests); retry with backoff`));
    }
    this.inflight++;
    this.opts.hooks?.queueDepth?.(0, this.batchers[0]!.depth);
    if (opts.deadlineMs !== undefined && Number.isFinite(opts.deadlineMs)) {
      const delay = Math.max(0, opts.deadlineMs - this.opts.clock.now());
      sample.timer = this.opts.clock.setTimer(() => this.onDeadline(sample), delay);
    }
    return { result, cancel: () => this.withdraw(sample, new ServingError("cancelled", "request cancelled by the client")) };
  }

  /** Refuses new work and resolves when every admitted request has been answered. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
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

  private settle(s: Sample): void {
    s.settled = true;
    s.tensors.clear();
    if (s.timer !== undefined) this.opts.clock.clearTimer(s.timer);
    this.inflight--;
    if (this.inflight === 0)
      this.drainWaiters.splice(0).forEach((w) => {
        w();
      });
  }

  private finish(s: Sample, p: ExitPrediction, probs: Float32Array, reason: ExitReason): void {
    this.settle(s);
    this.policy.observe(p.flops);
    this.opts.hooks?.exitTaken?.(p.exit, p.flops);
    s.resolve({ ...p, probabilities: probs, reason, exits: s.opts.returnAllExits ? s.predictions : [], queueMs: s.queueMs, computeMs: s.computeMs });
  }

  private async runBatch(k: number, all: Sample[]): Promise<void> {
    const batch = all.filter((s) => !s.settled);
    this.opts.hooks?.queueDepth?.(k, this.batchers[k]!.depth);
    if (batch.length === 0) return;
    const stage = this.model.stages[k]!;
    const feeds: Record<string, HostTensor> = {};
    for (const name of stage.inputs) feeds[name] = this.gather(name, batch);
    const t0 = this.opts.clock.now();
    for (const s of batch) s.queueMs += t0 - s.enqueuedAtMs;
    let out: Record<string, HostTensor>;
    try {
      out = await this.runner.runStage(k, feeds, { transferInputs: true }); // gather made them for this run
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
    if (k === 0) this.admission.recordBatch(seconds * 1000);
    this.opts.hooks?.batchRun?.(k, batch.length, seconds);
    this.log.debug({ stage: k + 1, batch: batch.length, ms: seconds * 1000 }, "batch ran");
    this.scatter(k, batch, out);
  }

  private gather(name: string, batch: Sample[]): HostTensor {
    const dims = this.perSampleDims.get(name);
    if (!dims) throw new Error(`no shape known for tensor '${name}'`);
    return gatherRows(
      batch.map((s) => s.tensors.get(name)!),
      dims,
    );
  }

  private scatter(k: number, batch: Sample[], out: Record<string, HostTensor>): void {
    const logits = out.logits;
    if (!logits) throw new Error(`stage ${k + 1} returned no logits`);
    const classes = this.model.classes;
    const thresholds = this.policy.thresholds();
    const carried = this.model.stages[k]!.outputs.filter((n) => n !== "logits" && (this.lastReader.get(n) ?? -1) > k);
    for (const name of carried) this.perSampleDims.set(name, out[name]!.dims.slice(1) as number[]);
    const next = this.batchers[k + 1];
    batch.forEach((s, i) => {
      if (s.settled) return;
      const probs = this.scorer.score(k, logits.data, i, classes, s.lastProbs);
      const cls = argmax(probs);
      const p: ExitPrediction = { exit: k, classIndex: cls, confidence: probs[cls]!, flops: this.model.exitFlops[k]! };
      s.predictions.push(p);
      s.lastProbs = probs;
      if (k >= s.maxExit || !next) {
        const reason: ExitReason = s.fixed ? "fixed" : k === this.exits - 1 ? "last" : "budget";
        this.finish(s, p, probs, reason);
        return;
      }
      if (!s.fixed && p.confidence >= thresholds[k]!) {
        this.finish(s, p, probs, "confident");
        return;
      }
      for (const name of s.tensors.keys()) if ((this.lastReader.get(name) ?? -1) <= k) s.tensors.delete(name);
      for (const name of carried) s.tensors.set(name, rowOf(out[name]!, i, batch.length));
      s.stage = k + 1;
      s.enqueuedAtMs = this.opts.clock.now();
      next.enqueue(s);
    });
    if (next) this.opts.hooks?.queueDepth?.(k + 1, next.depth);
  }
}

function rejected(err: Error): Submission {
  const result = Promise.reject(err);
  result.catch(() => {});
  return { result, cancel: () => {} };
}
