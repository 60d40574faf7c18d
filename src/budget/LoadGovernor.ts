import type { Clock } from "../core/Clock.js";

export interface LoadGovernorOptions {
  clock: Clock;
  /** How often the queue is looked at, in ms. */
  intervalMs: number;
  /** The admission estimate of queueing time for a new request, in ms. */
  waitMs(): number;
  /** Queueing time at which admission starts refusing (maxQueueWaitMs). */
  maxWaitMs: number;
  /** Lowest load factor: the FLOPs target never drops below this fraction of the operator's. */
  minFactor: number;
  /** Applies a new load factor (the budget target is the operator's target times it). */
  apply(factor: number): void;
}

/** Above this fraction of maxWaitMs the queue counts as long, below LOW as short. */
const HIGH = 0.5;
const LOW = 0.2;
/** Multiplicative decrease while long, additive increase while short (AIMD). */
const DECREASE = 0.75;
const INCREASE = 0.05;

/**
 * Load-adaptive FLOPs target: while the first stage's queue is long the target is lowered, so
 * more requests leave at early exits and the same cores answer more of them (accuracy for
 * latency, instead of refusing); when the queue is short again it is raised back step by step.
 * AIMD: cut by DECREASE each interval the estimated wait is above HIGH x maxWaitMs, raise by
 * INCREASE each interval it is below LOW x maxWaitMs, hold in between. The budget controller
 * follows the lowered target within a few dozen requests, much faster than the interval.
 */
export class LoadGovernor {
  private factor = 1;
  private timer: unknown;

  constructor(private readonly opts: LoadGovernorOptions) {
    if (!(opts.minFactor > 0 && opts.minFactor <= 1)) throw new RangeError("minFactor must be in (0, 1]");
  }

  get loadFactor(): number {
    return this.factor;
  }

  start(): void {
    const tick = () => {
      this.step();
      this.timer = this.opts.clock.setTimer(tick, this.opts.intervalMs);
    };
    this.timer = this.opts.clock.setTimer(tick, this.opts.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** One control step (called every intervalMs once started). */
  step(): void {
    const w = this.opts.waitMs();
    let f = this.factor;
    if (w > HIGH * this.opts.maxWaitMs) f = Math.max(this.opts.minFactor, f * DECREASE);
    else if (w < LOW * this.opts.maxWaitMs) f = Math.min(1, f + INCREASE);
    if (f !== this.factor) {
      this.factor = f;
      this.opts.apply(f);
    }
  }
}
