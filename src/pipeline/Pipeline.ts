import type { Logger } from "pino";
import { ServingError } from "../core/errors.js";
import { EngineWorkerStopped, type HostTensor, type StageBatchResult, type StageRunner } from "../engine/StageRunner.js";
import type { ChainAnswers } from "../engine/stageChain.js";
import { exitDecision } from "../scoring/exitDecision.js";
import { type ExitScorer, makeScorer } from "../scoring/exitScorers.js";
import { batchFailure } from "./batchFailure.js";
import { drop, type KeptHandle, ownRow, stageInputs } from "./carriedTensors.js";
import type { EntryAdmission } from "./EntryAdmission.js";
import type { AnsweredRequest, ExitPolicy } from "./ExitPolicy.js";
import { type EngineDecisions, engineDecisionsFor, HeardAnswers, replayAnswer, reportRuns } from "./engineDecisions.js";
import { predictAt, predictEvery } from "./exitPrediction.js";
import { depthOf, PipelinePrograms, type Program, queueOf } from "./PipelinePrograms.js";
import type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission } from "./pipelineTypes.js";
import { isOut, maxExitFor, newSample, rejected, resultOf, type Sample } from "./Sample.js";

export type { ClassifyResult, ExitPrediction, ExitReason, PipelineHooks, PipelineModel, PipelineOptions, RequestOptions, Submission };

/**
 * Staged early-exit execution with its queues in the scheduler (which decides when a batch leaves
 * and on which worker it runs): samples not confident enough after stage k join stage k+1's queue
 * of the worker that ran them, which keeps the tensors they carry. A sample that must reach the
 * last exit anyway takes the fused path: one batch of the whole-network graph.
 */
export class Pipeline {
  private readonly programs: PipelinePrograms;
  private inflight = 0;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly scorer: ExitScorer;
  private readonly admission: EntryAdmission;
  /** Set when the engine decides the exits after the first: a batch of stage 2 on runs through the stages it needs there. */
  private readonly decisions: EngineDecisions | undefined;

  constructor(
    private readonly model: PipelineModel,
    private readonly runner: StageRunner,
    private readonly policy: ExitPolicy,
    private readonly opts: PipelineOptions,
  ) {
    this.log = opts.log;
    this.scorer = opts.scorer ?? makeScorer("max-softmax", []);
    this.programs = new PipelinePrograms(model, opts, (p, batch, worker) => this.runBatch(p, batch, worker));
    this.admission = this.programs.admission;
    this.decisions = runner.runChain && engineDecisionsFor(opts.decideInEngine ?? false, this.programs, model.classes, this.scorer, () => opts.clock.now());
  }

  get exits(): number {
    return this.model.exitFlops.length;
  }

  get inflightCount(): number {
    return this.inflight;
  }

  /** How long a request admitted now would wait for its first answer (see AdmissionEstimate); the longer of the entry queues without `opts`. */
  estimatedWaitMs(opts?: RequestOptions): number {
    return this.admission.waitMs(opts && this.programs.entryOf(opts).session, opts?.priority ?? 0);
  }

  /** Why a request arriving now would be refused (shutting down, or its queue too long), or undefined; cheap, asked before decoding. */
  admissionError(opts: RequestOptions = {}): ServingError | undefined {
    if (this.closed) return new ServingError("unavailable", "server is shutting down; retry on another replica");
    return this.admission.refusal(this.programs.entryOf(opts).session, opts);
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
    const entry = this.programs.entryOf(opts);
    const { sample, result } = newSample(opts, this.model.inputName, ownRow(input, this.model.inputShape), {
      maxExit,
      policy: opts.policy ?? this.policy,
      path: entry.fused ? "fused" : "staged",
      enqueuedAtMs: this.opts.clock.now(),
    });
    const queue = entry.queues[0]!;
    if (!this.programs.loop.offer(queue, sample, this.opts.maxQueueSize)) return rejected(this.admission.full(entry.session));
    this.inflight++;
    this.opts.hooks?.queueDepth?.(entry.session, queue.depth);
    if (opts.deadlineMs !== undefined && Number.isFinite(opts.deadlineMs)) {
      const delay = Math.max(0, opts.deadlineMs - this.opts.clock.now());
      sample.timer = this.opts.clock.setTimer(() => this.onDeadline(sample), delay);
    }
    if (opts.queueTimeoutMs) sample.queueTimer = this.opts.clock.setTimer(() => this.onQueueTimeout(sample), opts.queueTimeoutMs);
    return { result, cancel: () => this.withdraw(sample, new ServingError("cancelled", "request cancelled by the client")) };
  }

  /** Refuses new work and resolves when every admitted request has been answered. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drains, then takes the pipeline's queues out of the scheduler it shares. */
  async dispose(): Promise<void> {
    await this.drain();
    this.programs.close();
  }

  private onDeadline(s: Sample): void {
    s.timer = undefined;
    if (isOut(s)) return;
    const best = s.predictions[s.predictions.length - 1];
    if (s.opts.anytime && best && s.lastProbs) {
      this.dequeue(s);
      this.finish(s, best, s.lastProbs, "deadline");
    } else {
      this.opts.hooks?.dropped?.("deadline");
      const hint = s.predictions.length ? "; an anytime request gets the deepest exit computed instead" : "";
      this.withdraw(s, new ServingError("deadline_exceeded", `deadline passed after ${s.predictions.length} of ${this.exits} exits${hint}`));
    }
  }

  /** Its level's queue timeout passed: if it still waits for the first stage, reject it, or put it behind all that has not timed out. */
  private onQueueTimeout(s: Sample): void {
    s.queueTimer = undefined;
    if (s.status !== "queued" || s.stage !== 0) return;
    const queue = this.programs.queueOf(s);
    const loop = this.programs.loop;
    if (s.opts.queueTimeoutAction === "delay") {
      loop.delay(queue, s);
      return;
    }
    this.opts.hooks?.dropped?.("queue_timeout");
    const level = s.opts.priority ? ` at priority level ${s.opts.priority}` : "";
    this.withdraw(s, new ServingError("unavailable", `queue timeout (${s.opts.queueTimeoutMs} ms${level}) passed before it started; retry with backoff`));
  }

  private withdraw(s: Sample, err: ServingError): void {
    if (isOut(s)) return;
    if (err.kind === "cancelled") this.opts.hooks?.dropped?.("cancelled");
    this.dequeue(s);
    this.settle(s, "withdrawn");
    s.reject(err);
  }

  /** Takes a queued `s` out of its queue. */
  private dequeue(s: Sample): void {
    const p = this.programs.of(s);
    if (s.status === "queued" && this.programs.loop.remove(queueOf(p, s.worker), s)) this.opts.hooks?.queueDepth?.(p.session, depthOf(p));
  }

  /** Takes `s` out of the pipeline; unless it is answered with a prediction, the exit policy forgets what it charged for it. */
  private settle(s: Sample, status: "answered" | "withdrawn", predicted = false): void {
    s.status = status;
    if (!predicted && s.chargedFlops > 0) s.policy.withdrawn(s.chargedFlops);
    for (const ref of s.tensors.values()) drop(ref, this.runner);
    s.tensors.clear();
    if (s.timer !== undefined) this.opts.clock.clearTimer(s.timer);
    if (s.queueTimer !== undefined) this.opts.clock.clearTimer(s.queueTimer);
    this.inflight--;
    if (this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Answers `s` (first, so that nothing after it can leave it unanswered), then tells the policy (unless `heard` collects it for observeAll) and the metrics. */
  private finish(s: Sample, p: ExitPrediction, probs: Float32Array, reason: ExitReason, heard?: HeardAnswers): void {
    this.settle(s, "answered", true);
    s.resolve(resultOf(s, p, probs, reason));
    const answer: AnsweredRequest = { exit: p.exit, flops: p.flops, chargedFlops: s.chargedFlops, path: s.path };
    heard ? heard.add(s.policy, answer) : s.policy.observe(answer);
    this.opts.hooks?.exitTaken?.(p.exit, p.flops, s.opts.tenant);
  }

  /** Fails every sample of the batch still in it (not answered or forwarded yet): UNAVAILABLE when the engine worker stopped, else INTERNAL. */
  private failBatch(p: Program, batch: Sample[], step: string, err: unknown): void {
    this.log.error({ stage: p.fused ? "fused" : p.session + 1, batch: batch.length, step, err }, "batch failed; failing its requests");
    const error = batchFailure(p.fused ? "the fused graph" : `stage ${p.session + 1}`, step, err);
    for (const s of batch) {
      if (s.status !== "running") continue;
      this.settle(s, "answered");
      s.reject(error);
    }
  }

  /** Runs a batch the scheduler planned for `worker`: program `p` on it, then answers or forwards each sample (scatter); every step that throws fails the batch's requests. */
  private async runBatch(p: Program, batch: Sample[], worker: number): Promise<void> {
    for (const s of batch) s.status = "running";
    const k = p.session;
    const depth = depthOf(p);
    if (this.admission.isEntry(k)) this.admission.recordDispatch(k, this.opts.clock.now(), batch.length, depth);
    this.opts.hooks?.queueDepth?.(k, depth);
    const t0 = this.opts.clock.now();
    for (const s of batch) s.queueMs += t0 - s.enqueuedAtMs;
    const chained = k > 0 && !p.fused ? this.decisions?.rulesFor(batch, k) : undefined;
    let out: StageBatchResult | ChainAnswers;
    try {
      out = chained // inputs made for it: transferred
        ? await this.runner.runChain!(this.decisions!.model, stageInputs([...batch[0]!.tensors.keys()], batch, this.model), chained, {
            worker,
            transferInputs: true,
          })
        : await this.runner.runBatch(k, stageInputs(p.graph.inputs, batch, this.model), { worker, keep: p.keep, transferInputs: true });
    } catch (err) {
      if (chained && err instanceof EngineWorkerStopped) this.decisions!.workerStopped(worker);
      return this.failBatch(p, batch, "run", err);
    }
    const seconds = (this.opts.clock.now() - t0) / 1000;
    try {
      for (const s of batch) s.computeMs += seconds * 1000;
      if (this.admission.isEntry(k)) {
        this.admission.recordBatch(k, seconds * 1000);
        this.opts.stats?.batchRan(batch.length, seconds);
      }
      reportRuns(out, k, batch.length, seconds, this.opts.hooks);
      this.log.debug({ stage: p.fused ? "fused" : k + 1, batch: batch.length, ms: seconds * 1000, chained: chained !== undefined }, "batch ran");
      if ("answers" in out) this.answerChained(batch, k, out);
      else if (p.fused) this.finishFused(batch, out.host);
      else this.scatter(p, batch, out.host, out.kept && { block: out.kept, holders: 0 }, worker);
      if (!p.fused && !("answers" in out)) this.decisions?.publish(batch); // decisions made here moved the thresholds
    } catch (err) {
      this.failBatch(p, batch, "scatter", err);
    }
  }

  /** The engine decided the batch's exits: its policies hear each sample's scores and decisions (replayAnswer), then each sample still in it answers, heard together (observeAll). */
  private answerChained(batch: Sample[], start: number, out: ChainAnswers): void {
    const heard = new HeardAnswers();
    try {
      batch.forEach((s, i) => {
        if (s.status !== "running") return; // withdrawn meanwhile
        const a = replayAnswer(s, start, out.answers, i, this.model.exitFlops, this.model.classes);
        this.finish(s, a.prediction, a.probs, a.reason, heard);
      });
    } finally {
      this.decisions!.tell(heard);
    }
  }

  /** The fused graph ran every exit at once: each sample answers from the last, with every exit's prediction where it asked for all. */
  private finishFused(batch: Sample[], out: Record<string, HostTensor>): void {
    batch.forEach((s, i) => {
      if (s.status !== "running") return; // withdrawn meanwhile
      const { predictions, probs } = predictEvery(this.scorer, out, i, this.model.classes, this.model.exitFlops, s.opts.returnAllExits);
      s.predictions.push(...predictions);
      this.finish(s, predictions[predictions.length - 1]!, probs, "fixed");
    });
  }

  /**
   * Scores exit k+1 for each sample of the batch and answers it, or forwards it to stage k+2 on
   * the same worker with references to the rows of `kept` (the outputs later stages read, which
   * stayed in that worker). Forwarded samples join the next queue even if a later sample throws.
   */
  private scatter(p: Program, batch: Sample[], out: Record<string, HostTensor>, kept: KeptHandle | undefined, worker: number): void {
    const k = p.session;
    const logits = out.logits;
    if (!logits) throw new Error(`stage ${k + 1} returned no logits`);
    const next = this.programs.stages[k + 1];
    const moving: Sample[] = [];
    try {
      for (const [i, s] of batch.entries()) {
        if (s.status !== "running") continue; // withdrawn meanwhile
        const { probs, prediction: pr } = predictAt(this.scorer, k, logits.data, i, this.model.classes, s.lastProbs, this.model.exitFlops[k]!);
        s.predictions.push(pr);
        s.lastProbs = probs;
        if (!s.fixed) s.policy.exitScored(k, pr.confidence); // counted before this decision (the difficulty estimate)
        // thresholds read per sample: the controller has counted the decisions made before this one
        const decision = exitDecision(k, this.exits, pr.confidence, () => s.policy.thresholds()[k]!, s);
        if (decision !== "forward") {
          this.finish(s, pr, probs, decision);
          continue;
        }
        if (!next || (p.keep.length > 0 && !kept)) throw new Error(`stage ${k + 1} forwarded a request but ${next ? "kept no outputs" : "is the last"}`);
        for (const [name, ref] of s.tensors) {
          if ((this.programs.lastReader.get(name) ?? -1) > k) continue;
          s.tensors.delete(name);
          drop(ref, this.runner);
        }
        for (const name of p.keep) {
          s.tensors.set(name, { kind: "kept", handle: kept!, row: i });
          kept!.holders++;
        }
        s.chargedFlops += s.policy.advanced(k);
        s.stage = k + 1;
        s.worker = worker;
        s.status = "queued";
        s.enqueuedAtMs = this.opts.clock.now();
        moving.push(s);
      }
    } finally {
      if (kept && kept.holders === 0) this.runner.release(kept.block);
      if (next && moving.length > 0) {
        this.programs.loop.enqueue(queueOf(next, worker), moving);
        this.opts.hooks?.queueDepth?.(k + 1, depthOf(next));
      }
    }
  }
}
