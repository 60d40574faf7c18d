import type { Logger } from "pino";
import { ServingError } from "../core/errors.js";
import { type AnsweredRequest, type ExitPolicy, StaticExitPolicy } from "../pipeline/ExitPolicy.js";
import type { ThresholdRule } from "../scoring/thresholdRule.js";
import { BudgetController } from "./BudgetController.js";
import { type ExitScores, oracleAccuracy, pointForBudget, type TablePoint } from "./thresholdTable.js";

export type BudgetMode = "controller" | "offline" | "fixed";

export interface BudgetStatus {
  mode: BudgetMode;
  /** The operator's target (config or SetBudget). */
  targetFlops: number;
  /** Fraction of the operator's target in force (below 1 while the load governor lowers it). */
  loadFactor: number;
  lastExitFlops: number;
  /** Exponential moving average of spent FLOPs per request (about `averageWindow` requests). */
  realizedFlops: number;
  observed: number;
  knob: number;
  /** The knob's terms in controller mode (feed-forward and integral in logit units, in-flight charges in multiply-adds). */
  knobTerms?: { feedForward: number; integral: number; inflightChargedFlops: number };
  /** The exit scoring rule the thresholds apply to. */
  scoreRule: string;
  thresholds: readonly number[];
  /** The offline table point the thresholds start from (undefined in fixed mode). */
  point?: TablePoint;
}

export interface BudgetManagerOptions {
  exitFlops: readonly number[];
  mode: BudgetMode;
  /** Multiply-adds per request. */
  targetFlops: number;
  /** Offline table from the validation split (empty in fixed mode). */
  table: readonly TablePoint[];
  /** Validation scores, for the oracle curve. */
  scores?: ExitScores;
  fixedThresholds?: readonly number[];
  /** The exit scoring rule the thresholds apply to (reported in the status). */
  scoreRule?: string;
  averageWindow?: number;
  /** BudgetController gain, margin and feed-forward window (its defaults if unset). */
  gain?: number;
  margin?: number;
  window?: number;
  log: Logger;
}

/**
 * The exit policy the pipeline runs with, and the run-time budget state behind the admin RPC:
 * fixed thresholds (config), the offline table point for the target, or the online controller
 * started from that point. Changing the target re-picks the point (and restarts the controller).
 */
export class BudgetManager implements ExitPolicy {
  private controller: BudgetController | undefined;
  /** The charges of this budget's requests the engine runs (countRunning); every controller made counts them. */
  private running: () => number = () => 0;
  /** Thresholds in fixed and offline mode (the controller has its own). */
  private fixedPolicy = new StaticExitPolicy([]);
  private point: TablePoint | undefined;
  private target: number;
  private loadFactor = 1;
  private average: number;
  private observed = 0;
  private readonly alpha: number;

  constructor(private readonly opts: BudgetManagerOptions) {
    this.target = opts.targetFlops;
    this.average = opts.targetFlops;
    this.alpha = 1 / (opts.averageWindow ?? 1000);
    if (opts.mode === "fixed") {
      if (!opts.fixedThresholds) throw new Error("fixed mode needs thresholds");
      this.fixedPolicy = new StaticExitPolicy(opts.fixedThresholds);
    } else {
      this.setTarget(opts.targetFlops);
    }
  }

  /** A budget of its own at `targetFlops` (a tenant's), from the same table, scores and controller settings. */
  withTarget(targetFlops: number): BudgetManager {
    return new BudgetManager({ ...this.opts, targetFlops });
  }

  get mode(): BudgetMode {
    return this.opts.mode;
  }

  get table(): readonly TablePoint[] {
    return this.opts.table;
  }

  thresholds(): readonly number[] {
    return this.controller ? this.controller.thresholds() : this.fixedPolicy.thresholds();
  }

  exitScored(exit: number, confidence: number): void {
    this.controller?.exitScored(exit, confidence);
  }

  thresholdRule(): ThresholdRule {
    return this.controller ? this.controller.thresholdRule() : this.fixedPolicy.thresholdRule();
  }

  advanced(exit: number): number {
    return this.controller?.advanced(exit) ?? 0;
  }

  engineMayDecide(): boolean {
    return this.controller?.engineMayDecide() ?? true;
  }

  withdrawn(chargedFlops: number): void {
    this.controller?.withdrawn(chargedFlops);
  }

  observe(answer: AnsweredRequest): void {
    this.controller?.observe(answer);
    this.count(answer);
  }

  countRunning(running: () => number): void {
    this.running = running;
    this.controller?.countRunning(running);
  }

  observeAll(answers: readonly AnsweredRequest[]): void {
    this.controller?.observeAll(answers);
    for (const a of answers) this.count(a);
  }

  private count(answer: AnsweredRequest): void {
    this.observed++;
    this.average += (answer.flops - this.average) * Math.max(this.alpha, 1 / this.observed);
  }

  /** New target in multiply-adds per request; FAILED_PRECONDITION with fixed thresholds. */
  setTarget(flops: number): BudgetStatus {
    if (this.opts.mode === "fixed") {
      throw new ServingError("failed_precondition", "the server runs with fixed thresholds (config key 'thresholds'); a budget target has no effect");
    }
    if (!(flops > 0) || !Number.isFinite(flops))
      throw new ServingError("invalid_argument", `target: expected a positive number of multiply-adds, got ${flops}`);
    this.target = flops;
    const effective = flops * this.loadFactor;
    this.point = pointForBudget(this.opts.table, effective);
    if (this.opts.mode === "controller") {
      this.controller = new BudgetController({
        exitFlops: this.opts.exitFlops,
        baseThresholds: this.point.thresholds,
        targetFlops: effective,
        gain: this.opts.gain,
        margin: this.opts.margin,
        window: this.opts.window,
        scores: this.opts.scores,
        pendingFlops: this.controller?.pendingFlops,
      });
      this.controller.countRunning(this.running);
    } else {
      this.fixedPolicy = new StaticExitPolicy(this.point.thresholds);
    }
    this.opts.log.info(
      {
        mode: this.opts.mode,
        targetFlops: Math.round(flops),
        loadFactor: this.loadFactor,
        p: this.point.p,
        expectedFlops: Math.round(this.point.expectedFlops),
        calibrationAccuracy: this.point.accuracy,
      },
      "budget target set",
    );
    return this.status();
  }

  /**
   * Scales the target in force to `factor` x the operator's target (load-adaptive mode): the
   * controller carries on from its knob towards the new target; offline mode re-picks its table
   * point. No effect with fixed thresholds.
   */
  setLoadFactor(factor: number): void {
    if (this.opts.mode === "fixed" || factor === this.loadFactor) return;
    this.loadFactor = factor;
    const effective = this.target * factor;
    if (this.controller) this.controller.setTarget(effective);
    else this.fixedPolicy = new StaticExitPolicy(pointForBudget(this.opts.table, effective).thresholds);
    this.opts.log.debug({ loadFactor: factor, effectiveTargetFlops: Math.round(effective) }, "load factor changed");
  }

  status(): BudgetStatus {
    return {
      mode: this.opts.mode,
      targetFlops: this.target,
      loadFactor: this.loadFactor,
      lastExitFlops: this.opts.exitFlops[this.opts.exitFlops.length - 1]!,
      realizedFlops: this.average,
      observed: this.observed,
      knob: this.controller?.knob ?? 0,
      knobTerms: this.controller && {
        feedForward: this.controller.knobTerms.feedForward,
        integral: this.controller.knobTerms.integral,
        inflightChargedFlops: this.controller.pendingFlops + this.controller.runningFlops,
      },
      scoreRule: this.opts.scoreRule ?? "max-softmax",
      thresholds: this.thresholds(),
      point: this.point,
    };
  }

  /** Oracle accuracy on the validation split at each table point's cost. */
  oracle(): { flops: number; accuracy: number }[] {
    if (!this.opts.scores) return [];
    const flops = this.opts.table.map((p) => p.expectedFlops);
    return oracleAccuracy(this.opts.scores, this.opts.exitFlops, flops).map((accuracy, i) => ({ flops: flops[i]!, accuracy }));
  }
}
