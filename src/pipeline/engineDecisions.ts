import type { HostTensor } from "../engine/StageRunner.js";
import type { ChainAnswers, ChainModel, ChainRules } from "../engine/stageChain.js";
import { ThresholdBoard } from "../engine/ThresholdBoard.js";
import { DECIDED_EXITS, type DecidedExit } from "../scoring/exitDecision.js";
import type { ExitScorer } from "../scoring/exitScorers.js";
import type { AnsweredRequest, ExitPolicy } from "./ExitPolicy.js";
import type { PipelinePrograms } from "./PipelinePrograms.js";
import type { ExitPrediction, PipelineHooks } from "./pipelineTypes.js";
import type { Sample } from "./Sample.js";

/** Board slots a model's exit policies may take (the model's own and its tenants'); a batch with a policy past them is decided stage by stage here. */
const BOARD_SLOTS = 64;

/**
 * The main thread's side of exits decided in the engine, for one model: the chain model the
 * workers get once, the ThresholdBoard its exit policies publish their thresholds to (a slot
 * each, its running charges counted by the policy: countRunning), and each chained batch's rules.
 */
export class EngineDecisions {
  readonly model: ChainModel;
  private readonly board: ThresholdBoard;
  private readonly slots = new Map<ExitPolicy, number>();

  /**
   * `alone`, in auto mode (exitDecisionsInEngine auto): whether a batch has the engine to itself
   * (a chain holds its worker slot until its last request answers, so with another model's or a
   * higher level's work about it goes stage by stage); a batch goes to the engine only then and
   * when each of its policies allows it (ExitPolicy.engineMayDecide).
   */
  constructor(
    stages: readonly { graph: { inputs: readonly string[] }; keep: readonly string[] }[],
    classes: number,
    scorer: ExitScorer,
    workers: number,
    private readonly alone?: (batch: readonly Sample[]) => boolean,
  ) {
    this.board = ThresholdBoard.create(stages.length, workers, BOARD_SLOTS);
    this.model = Object.freeze({
      scoreRule: scorer.name,
      temperatures: scorer.temperatures,
      classes,
      stages: stages.map((p) => ({ inputs: p.graph.inputs, keep: p.keep })),
      board: { buffer: this.board.buffer, workers },
    });
  }

  /**
   * The rules for the engine of a batch of stage `stage` (each sample's deepest exit, whether it
   * is fixed, its policy's board slot, and for a rule that averages exits, its last exit's
   * probabilities), its policies' thresholds published; undefined when the batch goes on stage by
   * stage here: an anytime request in it (it answers mid-chain at its deadline), a policy
   * beyond the board's slots, or in auto mode a policy that does not allow it now or other work
   * about it in the engine.
   */
  rulesFor(batch: readonly Sample[], stage: number): ChainRules | undefined {
    if (this.alone && !(allowedByPolicies(batch) && this.alone(batch))) return undefined;
    const samples = new Int32Array(3 * batch.length);
    const C = this.model.classes;
    const lastProbs = this.model.scoreRule.startsWith("ensemble") ? new Float32Array(batch.length * C) : undefined;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i]!;
      const slot = s.opts.anytime ? undefined : this.slotOf(s.policy);
      if (slot === undefined) return undefined;
      samples[3 * i] = s.maxExit;
      samples[3 * i + 1] = s.fixed ? 1 : 0;
      samples[3 * i + 2] = slot;
      if (lastProbs && s.lastProbs) lastProbs.set(s.lastProbs, i * C);
    }
    return { stage, samples, lastProbs };
  }

  /** Publishes the thresholds of the batch's policies that the engine decides for, as they stand now (after decisions made here). */
  publish(batch: readonly Sample[]): void {
    let last: ExitPolicy | undefined;
    for (const s of batch) {
      if (s.policy === last) continue;
      last = s.policy;
      const slot = this.slots.get(s.policy);
      if (slot !== undefined) this.board.publish(slot, s.policy.thresholdRule());
    }
  }

  /** Tells each policy a chain's answers, after their decisions were replayed to it (ExitPolicy.observeAll), and publishes its thresholds as they stand then. */
  tell(answers: HeardAnswers): void {
    for (const policy of answers.tellPolicies()) this.board.publish(this.slots.get(policy)!, policy.thresholdRule());
  }

  /** A chain on `worker` failed because the worker stopped: the charges of the requests it ran went with them, and its replacement counts from zero. */
  workerStopped(worker: number): void {
    this.board.resetWorker(worker);
  }

  private slotOf(policy: ExitPolicy): number | undefined {
    let slot = this.slots.get(policy);
    if (slot === undefined) {
      if (this.slots.size >= this.board.slots) return undefined;
      slot = this.slots.size;
      this.slots.set(policy, slot);
      const at = slot;
      policy.countRunning(() => this.board.running(at));
      this.board.publish(slot, policy.thresholdRule());
    }
    return slot;
  }
}

/**
 * The engine's side of a pipeline's exit decisions under `mode` (PipelineOptions.decideInEngine),
 * or undefined when every exit is decided on the main thread.
 */
export function engineDecisionsFor(
  mode: boolean | "auto",
  programs: PipelinePrograms,
  classes: number,
  scorer: ExitScorer,
  nowMs: () => number,
): EngineDecisions | undefined {
  if (mode === false) return undefined;
  const alone = mode === "auto" ? (batch: readonly Sample[]) => !programs.sharesEngine(batch, nowMs()) : undefined;
  return new EngineDecisions(programs.stages, classes, scorer, programs.loop.scheduler.workers, alone);
}

/** Whether every policy deciding for the batch (its samples' without a fixed exit) lets the engine decide now (ExitPolicy.engineMayDecide). */
function allowedByPolicies(batch: readonly Sample[]): boolean {
  let last: ExitPolicy | undefined;
  for (const s of batch) {
    if (s.fixed || s.policy === last) continue;
    last = s.policy;
    if (!s.policy.engineMayDecide()) return false;
  }
  return true;
}

/** Tells `hooks` of a batch's stage runs: each of a chain's (its own batch size and time), or the one stage `k` ran. */
export function reportRuns(out: ChainAnswers | object, k: number, size: number, seconds: number, hooks: PipelineHooks | undefined): void {
  if (!hooks?.batchRun) return;
  if (!("answers" in out)) hooks.batchRun(k, size, seconds);
  else
    for (let j = 0; j < out.stages.data.length / 2; j++)
      if (out.stages.data[2 * j]! > 0) hooks.batchRun(j, out.stages.data[2 * j]!, out.stages.data[2 * j + 1]! / 1000);
}

/** Answers of one chain, by exit policy, told to each policy together (ExitPolicy.observeAll). */
export class HeardAnswers {
  private readonly byPolicy = new Map<ExitPolicy, AnsweredRequest[]>();

  add(policy: ExitPolicy, answer: AnsweredRequest): void {
    const list = this.byPolicy.get(policy);
    if (list) list.push(answer);
    else this.byPolicy.set(policy, [answer]);
  }

  /** Tells each policy its answers; returns the policies told. */
  tellPolicies(): ExitPolicy[] {
    const told = [...this.byPolicy.keys()];
    for (const [policy, answers] of this.byPolicy) policy.observeAll(answers);
    this.byPolicy.clear();
    return told;
  }
}

/**
 * Sample `s`'s answer from row `i` of the answers of an engine chain that started at exit
 * `start` (ChainAnswers.answers), after telling its policy, in order, what the staged path tells
 * it one stage at a time: each exit's score (unless the exit is fixed) and each decision to go
 * on (charged to the sample). Its predictions list gets every exit it passed when the request
 * asked for all exits.
 */
export function replayAnswer(
  s: Sample,
  start: number,
  answers: HostTensor,
  i: number,
  exitFlops: readonly number[],
  classes: number,
): { prediction: ExitPrediction; probs: Float32Array; reason: DecidedExit } {
  const K = exitFlops.length;
  const d = answers.data;
  const base = i * answers.dims[1]!;
  const exit = d[base]!;
  const reason = DECIDED_EXITS[d[base + 1]!];
  if (!(exit >= start && exit < K) || !reason)
    throw new Error(`the engine answered exit ${exit} (reason ${d[base + 1]}) for a batch from exit ${start} of ${K}`);
  let prediction!: ExitPrediction;
  for (let k = start; k <= exit; k++) {
    const at = base + 2 + 4 * k;
    const confidence = d[at + 1]!;
    if (!s.fixed) s.policy.exitScored(k, confidence);
    if (k < exit) s.chargedFlops += s.policy.advanced(k);
    if (k < exit && !s.opts.returnAllExits) continue;
    prediction = { exit: k, classIndex: d[at]!, confidence, flops: exitFlops[k]!, ownClassIndex: d[at + 2]!, ownConfidence: d[at + 3]! };
    s.predictions.push(prediction);
  }
  s.stage = exit;
  const from = base + 2 + 4 * K;
  return { prediction, probs: d.slice(from, from + classes), reason };
}
