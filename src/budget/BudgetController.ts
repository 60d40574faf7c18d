import type { ExitPolicy } from "../pipeline/ExitPolicy.js";

export interface BudgetControllerOptions {
  /** Cumulative multiply-adds per exit. */
  exitFlops: readonly number[];
  /** Thresholds of the offline table point for the target: the controller's starting point. */
  baseThresholds: readonly number[];
  targetFlops: number;
  /**
   * Knob step per request for a cost error of one last-exit FLOPs (integral gain, default 0.4).
   * A shift that moves the knob by d costs d/gain last-exit FLOPs of overspend before it is
   * corrected. 0.4 was chosen by simulating the bundled model on its test set: 0.2 and 0.3 let
   * 1,000-request windows after a shift to noisy inputs run over target x 1.02, 0.4 did not,
   * at no measurable accuracy cost.
   */
  gain?: number;
  /** Aim this fraction under the target, so noise stays on the safe side. */
  margin?: number;
  /** Knob range in logit units; at its ends every sample goes to the first / last exit. */
  range?: number;
}

const EPS = 1e-6;
const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Online budget control on one knob, theta: every exit's threshold is the offline one shifted
 * by theta in logit space, T_k(theta) = sigmoid(logit(T_k) + theta). A larger theta raises every
 * threshold, so each sample exits no earlier: a request's cost is non-decreasing in theta.
 *
 * Control law (clamped integral): after each request of cost c,
 *     theta <- clamp(theta - gain * (c - B) / F_K, -range, range),  B = target * (1 - margin).
 * Summing the updates, theta_T - theta_0 = -gain/F_K * sum_t (c_t - B) while the clamp is idle,
 * so the mean cost over any T requests is within range*2*F_K/(gain*T) of B, whatever the
 * input sequence. The clamp only acts at the ends: at +range all samples reach the last exit
 * (cost F_K >= B pushes theta down), at -range they leave at exit 1 (cost F_1 <= B pushes it
 * up), so it cannot hold theta against the error unless the target is unreachable (B < F_1,
 * or requests capped below B by their own budgets), where it saturates at the nearest bound.
 */
export class BudgetController implements ExitPolicy {
  private theta = 0;
  private target: number;
  private readonly gain: number;
  private readonly margin: number;
  private readonly range: number;
  private readonly baseLogits: number[];
  private current: number[];

  constructor(private readonly opts: BudgetControllerOptions) {
    const K = opts.exitFlops.length;
    if (opts.baseThresholds.length < K - 1) throw new RangeError(`need ${K - 1} base thresholds, got ${opts.baseThresholds.length}`);
    this.gain = opts.gain ?? 0.4;
    this.margin = opts.margin ?? 0.01;
    this.range = opts.range ?? 12;
    this.target = opts.targetFlops;
    this.baseLogits = opts.baseThresholds.slice(0, K - 1).map((t) => logit(Math.min(1 - EPS, Math.max(EPS, t))));
    this.current = this.compute();
  }

  thresholds(): readonly number[] {
    return this.current;
  }

  observe(flops: number): void {
    const last = this.opts.exitFlops[this.opts.exitFlops.length - 1]!;
    const setpoint = this.target * (1 - this.margin);
    this.theta = Math.min(this.range, Math.max(-this.range, this.theta - (this.gain * (flops - setpoint)) / last));
    this.current = this.compute();
  }

  /** Changes the target at run time; the knob carries on from where it is. */
  setTarget(flops: number): void {
    this.target = flops;
  }

  get targetFlops(): number {
    return this.target;
  }

  get knob(): number {
    return this.theta;
  }

  private compute(): number[] {
    return [...this.baseLogits.map((l) => sigmoid(l + this.theta)), Number.NEGATIVE_INFINITY];
  }
}
