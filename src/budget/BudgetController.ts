import type { AnsweredRequest, ExitPolicy } from "../pipeline/ExitPolicy.js";
import type { ThresholdRule } from "../scoring/thresholdRule.js";
import { DifficultyFeedForward, shiftedThresholds } from "./difficultyFeedForward.js";
import { type ExitScores, reachedCosts } from "./thresholdTable.js";

/**
 * The highest target, as a fraction of the last exit's FLOPs, at which `exitDecisionsInEngine:
 * auto` lets the engine decide this controller's exits: measured through the server, its means
 * stay within [0.95, 1.00] of the target at 30% and 50% with decisions in the engine, and fall to
 * 0.82-0.92 at 70% (docs/budget.md).
 */
export const ENGINE_DECISIONS_MAX_TARGET_FRACTION = 0.5;

export interface BudgetControllerOptions {
  /** Cumulative multiply-adds per exit. */
  exitFlops: readonly number[];
  /** Thresholds of the offline table point for the target: the controller's starting point. */
  baseThresholds: readonly number[];
  targetFlops: number;
  /**
   * Integral gain: knob step (logit units) per last-exit FLOPs of cost error (default 0.5, chosen
   * on the validation split with `npm run tune:controller`, simulated and through the server).
   */
  gain?: number;
  /** Aim this fraction under the target, so noise stays on the safe side. */
  margin?: number;
  /** Knob range in logit units without calibration scores (with them it is fitted to the scores). */
  range?: number;
  /**
   * Validation-split exit scores under the serving rule: they fit the knob's useful range and
   * the feed-forward table. Without them the controller is the integral term alone on [-range, range].
   */
  scores?: ExitScores;
  /** Feed-forward window: how many recent first-exit confidences describe the traffic (default 224). */
  window?: number;
  /** Charges of requests already in flight (a controller replacing another carries its pendingFlops over). */
  pendingFlops?: number;
}

const EPS = 1e-6;
const logit = (p: number) => Math.log(p / (1 - p));
/** The feed-forward knob is re-solved after this many first-exit scores. */
const RESOLVE_EVERY = 8;
/**
 * Most the integral and commit-time terms together may raise the knob above the feed-forward
 * estimate (logit units). Traffic whose answers cost less than the estimate says (inputs that
 * leave early whatever the thresholds) then cannot wind the knob up; lowering it is not capped.
 */
const RAISE_CAP = 1;
/** Weight of one answered request in the running E[cost | reached exit k]. */
const REACHED_ALPHA = 1 / 256;

/**
 * Online budget control on one knob, theta: every exit's threshold is the offline one shifted
 * by theta in logit space, T_k(theta) = sigmoid(logit(T_k) + theta). A larger theta raises every
 * threshold, so each sample exits no earlier: a request's cost is non-decreasing in theta.
 * Setpoint B = target x (1 - margin); F_K = the last exit's FLOPs; g = gain.
 *
 * theta = theta_ff + theta_p + theta_i:
 *
 * - Feed-forward, theta_ff (DifficultyFeedForward): every request shows its difficulty when it
 *   is scored at the first exit, long before it is answered and however many requests are in
 *   flight. The knob at which the last `window` first-exit scores are predicted to spend B (from
 *   the validation split's costs per difficulty bin) is re-solved every RESOLVE_EVERY scores, so
 *   a drift in difficulty moves the knob before the drifted requests' cost is known.
 *
 * - Commit-time charges, theta_p = -g P / F_K: when a request goes on past exit k (advanced), it
 *   is charged at once the rise in its expected final cost, E[cost | reached k+1] - E[cost |
 *   reached k] (running means over answered requests; at least F_{k+1} - F_k). P sums the
 *   charges of the requests in flight. Every further request is decided with the spending
 *   already committed counted, which is what keeps the loop stable with 1,024 in flight (cost
 *   counted at answer time reaches the knob a whole queue later).
 *
 * - Integral, theta_i: after each answered request of cost c (whose charges leave P),
 *   theta_i <- theta_i - g (c - B) / F_K. Conditional integration: a step that would take theta
 *   above `highest` (the knob above which no validation sample goes deeper) or below `lowest`
 *   (at which every validation sample leaves at the first exit) stops at that edge, and a
 *   raising step also stops where theta_i + theta_p reaches RAISE_CAP (the knob at most that far
 *   above the feed-forward estimate). So the integral does not wind up while the thresholds do
 *   not change decisions (inputs that leave at the first exit whatever they are), and a burst of
 *   hard inputs after them meets a knob that already spends. When the feed-forward term moves
 *   theta past an edge, the integral gives back what lies beyond it.
 *
 * Guarantee, for any input order and any number of requests in flight. Summing the updates over
 * any run of answered requests: sum (c - B) = (F_K / g) (theta_i at its start - theta_i at its
 * end) + overspend cut at `lowest` - underspend cut (by a step or given back). theta_i falls only
 * while theta > lowest, so theta_i >= lowest - highest = -W (theta_ff <= highest, theta_p <= 0);
 * it rises only while theta_i + theta_p < RAISE_CAP, so theta_i <= RAISE_CAP + g P_max / F_K,
 * where P_max is the most ever charged to requests in flight at once (each request's charges
 * total at most 2 F_K). Hence the mean cost over any T consecutive answered requests is at most
 *     B + ((W + RAISE_CAP) F_K / g + P_max) / T  +  (overspend cut at `lowest`) / T,
 * and overspend is cut only while theta is at `lowest`, where the knob already sends every
 * validation-like input out at the first exit: cost it cannot reduce (fixed exits, deadlines,
 * per-request budgets, inputs unlike the validation split). Cutting underspend only lowers the
 * mean. The feed-forward and commit-time terms decide which requests spend, not what is counted,
 * so the bound holds whatever they do.
 */
export class BudgetController implements ExitPolicy {
  private integral = 0;
  private feedForward = 0;
  /** Commit-time charges of the requests in flight (multiply-adds). */
  private pending = 0;
  private target: number;
  private readonly gain: number;
  private readonly margin: number;
  private readonly lowest: number;
  private readonly highest: number;
  private readonly baseLogits: number[];
  private readonly difficulty: DifficultyFeedForward | undefined;
  private sinceSolve = 0;
  /** The thresholds of the knob without the engine's running charges, as last computed; `stale` once a term moved (recomputed when read: a batch of answers moves them once). */
  private computed: number[];
  private stale = false;
  /** The charges of requests the engine runs with its own decisions (countRunning). */
  private running: () => number = () => 0;
  /** Running E[final cost | the request reached exit k], per exit. */
  private readonly reachedCost: number[];

  constructor(private readonly opts: BudgetControllerOptions) {
    const K = opts.exitFlops.length;
    if (opts.baseThresholds.length < K - 1) throw new RangeError(`need ${K - 1} base thresholds, got ${opts.baseThresholds.length}`);
    this.gain = opts.gain ?? 0.5;
    this.margin = opts.margin ?? 0.01;
    this.target = opts.targetFlops;
    this.pending = opts.pendingFlops ?? 0;
    this.baseLogits = opts.baseThresholds.slice(0, K - 1).map((t) => logit(Math.min(1 - EPS, Math.max(EPS, t))));
    if (opts.scores) {
      this.difficulty = new DifficultyFeedForward(opts.scores, this.baseLogits, opts.exitFlops, opts.window ?? 224);
      this.lowest = this.difficulty.lowest;
      this.highest = this.difficulty.highest;
      this.feedForward = this.difficulty.solve(this.setpoint);
    } else {
      this.lowest = -(opts.range ?? 12);
      this.highest = opts.range ?? 12;
    }
    this.computed = this.compute();
    this.reachedCost = opts.scores ? reachedCosts(opts.scores, this.current, opts.exitFlops) : [...opts.exitFlops];
  }

  private get setpoint(): number {
    return this.target * (1 - this.margin);
  }

  /** The thresholds now: those of the knob, lowered further by the charges of the requests the engine runs (countRunning). */
  thresholds(): readonly number[] {
    return this.running() > 0 ? shiftedThresholds(this.baseLogits, this.knob) : this.current;
  }

  /** The thresholds now, and how each decision to go on lowers them until this controller hears of it (what advanced() does to the pending term). */
  thresholdRule(): ThresholdRule {
    const f = this.opts.exitFlops;
    const charges = this.baseLogits.map((_, k) => this.chargeFor(k));
    return { thresholds: this.current, shift: { baseLogits: this.baseLogits, knob: this.ownKnob, knobPerFlop: this.gain / f[f.length - 1]!, charges } };
  }

  /** Whether exitDecisionsInEngine auto lets the engine decide exits under this controller: at a target of at most ENGINE_DECISIONS_MAX_TARGET_FRACTION of the last exit. */
  engineMayDecide(): boolean {
    const f = this.opts.exitFlops;
    return this.target <= ENGINE_DECISIONS_MAX_TARGET_FRACTION * f[f.length - 1]!;
  }

  exitScored(exit: number, confidence: number): void {
    if (exit !== 0 || !this.difficulty) return;
    this.difficulty.add(confidence);
    if (++this.sinceSolve < RESOLVE_EVERY) return;
    this.sinceSolve = 0;
    this.feedForward = this.difficulty.solve(this.setpoint);
    this.unwind();
    this.stale = true;
  }

  /**
   * Commit-time charge for a request going on from exit `exit`: the rise in its expected final
   * cost, E[cost | reached exit+1] - E[cost | reached exit], at least the next stage's FLOPs. It
   * stays in the pending sum until the request is answered.
   */
  advanced(exit: number): number {
    const charge = this.chargeFor(exit);
    this.pending += charge;
    this.stale = true;
    return charge;
  }

  /**
   * An answered request: its charges leave the pending sum, its cost error enters the integral.
   * A request whose exits were decided (the staged path) also updates E[cost | reached exit k]
   * for the exits it reached; one that ran the fused graph made no decision, so says nothing of them.
   */
  observe(answer: AnsweredRequest): void {
    this.pending -= answer.chargedFlops;
    this.integrate(answer);
    this.stale = true;
  }

  /** Answers heard together, decided in the engine (ExitPolicy.observeAll): their charges leave the pending sum, then each one counts as observe counts it. */
  observeAll(answers: readonly AnsweredRequest[]): void {
    for (const a of answers) this.pending -= a.chargedFlops;
    for (const a of answers) this.integrate(a);
    this.stale = true;
  }

  /**
   * The charges of the requests the engine runs with its own decisions (ExitPolicy.countRunning):
   * pending as much as those charged here, so the thresholds read here and the integral's edges
   * count them too.
   */
  countRunning(running: () => number): void {
    this.running = running;
  }

  /** An answered request's cost error, into the integral (conditional integration, its edges placed by every charge in flight, the engine's running ones included); and E[cost | reached exit k] for a staged request. */
  private integrate({ exit, flops, path }: AnsweredRequest): void {
    const last = this.opts.exitFlops[this.opts.exitFlops.length - 1]!;
    const before = this.integral;
    let next = before - (this.gain * (flops - this.setpoint)) / last;
    const inflight = this.pendingTerm(this.running());
    const rest = this.feedForward + inflight;
    if (next > before) next = Math.max(before, Math.min(next, this.highest - rest, RAISE_CAP - inflight));
    else next = Math.min(before, Math.max(next, this.lowest - rest));
    this.integral = next;
    if (path === "fused") return;
    for (let k = 0; k <= exit; k++) this.reachedCost[k]! += REACHED_ALPHA * (flops - this.reachedCost[k]!);
  }

  private chargeFor(exit: number): number {
    const f = this.opts.exitFlops;
    return Math.max(f[exit + 1]! - f[exit]!, this.reachedCost[exit + 1]! - this.reachedCost[exit]!);
  }

  /** A request left unanswered: its charges leave the pending sum; its cost was not answered, so it does not count. */
  withdrawn(chargedFlops: number): void {
    this.pending -= chargedFlops;
    this.stale = true;
  }

  /**
   * After the feed-forward term moved: integral left beyond an edge it no longer needs to reach
   * (theta past `highest` with theta_i > 0, or past `lowest` with theta_i < 0) is taken back to
   * the edge, as conditional integration would have stopped it there.
   */
  private unwind(): void {
    const theta = this.knob;
    if (theta > this.highest && this.integral > 0) this.integral = Math.max(0, this.integral - (theta - this.highest));
    else if (theta < this.lowest && this.integral < 0) this.integral = Math.min(0, this.integral + (this.lowest - theta));
  }

  /** The commit-time term of the pending charges, and `runningFlops` more. */
  private pendingTerm(runningFlops = 0): number {
    return (-this.gain * (this.pending + runningFlops)) / this.opts.exitFlops[this.opts.exitFlops.length - 1]!;
  }

  /** Changes the target at run time; both terms carry on from where they are (the feed-forward one re-solves at once). */
  setTarget(flops: number): void {
    this.target = flops;
    if (this.difficulty) this.feedForward = this.difficulty.solve(this.setpoint);
    this.unwind();
    this.stale = true;
  }

  get targetFlops(): number {
    return this.target;
  }

  /** Commit-time charges of the requests in flight decided here (the engine's running ones are runningFlops), in multiply-adds. */
  get pendingFlops(): number {
    return this.pending;
  }

  /** The charges of the requests the engine runs now (countRunning), in multiply-adds. */
  get runningFlops(): number {
    return this.running();
  }

  /** The knob theta = feed-forward + integral + pending term (the engine's running charges included). */
  get knob(): number {
    return this.feedForward + this.integral + this.pendingTerm(this.running());
  }

  get knobTerms(): { feedForward: number; integral: number; pending: number; lowest: number; highest: number } {
    return { feedForward: this.feedForward, integral: this.integral, pending: this.pendingTerm(this.running()), lowest: this.lowest, highest: this.highest };
  }

  /** The knob without the engine's running charges (the engine counts those itself: ThresholdRule). */
  private get ownKnob(): number {
    return this.feedForward + this.integral + this.pendingTerm();
  }

  private get current(): number[] {
    if (this.stale) {
      this.computed = this.compute();
      this.stale = false;
    }
    return this.computed;
  }

  private compute(): number[] {
    return shiftedThresholds(this.baseLogits, this.ownKnob);
  }
}
