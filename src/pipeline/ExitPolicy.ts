import type { ThresholdRule } from "../scoring/thresholdRule.js";

/**
 * Decides where samples leave the network. The pipeline reads the thresholds for every
 * decision and reports each request's scores, its decisions to go on, and its answer (or its
 * withdrawal), so a controller can look ahead (difficulty), count spending when it is committed,
 * and close the loop (cost).
 */
export interface ExitPolicy {
  /** Confidence threshold per exit (the last one is ignored: everything exits there). */
  thresholds(): readonly number[];
  /** The thresholds as data, with how the policy's charges move them, for exits decided in the engine (ThresholdRule); the decisions reach the policy afterwards, in order, through exitScored and advanced. */
  thresholdRule(): ThresholdRule;
  /**
   * Called when a request scored at exit `exit` goes on to the next stage, at the moment that is
   * decided; returns the multiply-adds the policy charged for it (the caller hands their sum to
   * observe). A controller sees the cost of its decisions before their requests are answered,
   * however many are in flight.
   */
  advanced(exit: number): number;
  /**
   * Whether, with exitDecisionsInEngine auto, the engine may decide exits under this policy now:
   * one whose decisions do not depend on when answers are heard (fixed thresholds), or a
   * controller at a target where that was measured to hold its spending (docs/budget.md).
   */
  engineMayDecide(): boolean;
  /** Called once per answered request. */
  observe(answer: AnsweredRequest): void;
  /** Called instead of observe for requests answered together whose exits the engine decided (their decisions to go on were just charged): as observe for each. */
  observeAll(answers: readonly AnsweredRequest[]): void;
  /**
   * Where the engine decides exits too: `running` tells, at any moment, the charges of the
   * requests the engine runs now (its decisions to go on, counted against this policy's
   * thresholds as ThresholdRule says, and released as they answer; ThresholdBoard). A policy
   * that charges counts them as pending as well, in its thresholds and its accounting.
   */
  countRunning(running: () => number): void;
  /** Called for a request that leaves unanswered (cancelled, deadline, failed stage) with the sum advanced() returned for it. */
  withdrawn(chargedFlops: number): void;
  /** Called for every request the policy decides (not those with a fixed exit) as it is scored at an exit (0-based), before the decision: a controller may read the traffic's difficulty from it. */
  exitScored(exit: number, confidence: number): void;
}

/** An answered request as its exit policy hears of it. */
export interface AnsweredRequest {
  /** The exit it was answered at (0-based). */
  exit: number;
  /** Multiply-adds it spent. */
  flops: number;
  /** The sum advanced() returned for it. */
  chargedFlops: number;
  /** How it ran: "staged", its exits decided one at a time (each decision to go on charged), or "fused", the whole network in one run with no decision made. */
  path: "staged" | "fused";
}

/** Thresholds fixed at start (config or an offline table point). */
export class StaticExitPolicy implements ExitPolicy {
  private readonly values: readonly number[];
  constructor(values: readonly number[]) {
    this.values = Object.freeze([...values]);
  }
  thresholds(): readonly number[] {
    return this.values;
  }
  thresholdRule(): ThresholdRule {
    return { thresholds: this.values };
  }
  advanced(_exit: number): number {
    return 0;
  }
  engineMayDecide(): boolean {
    return true;
  }
  observe(_answer: AnsweredRequest): void {}
  observeAll(_answers: readonly AnsweredRequest[]): void {}
  countRunning(_running: () => number): void {}
  withdrawn(_chargedFlops: number): void {}
  exitScored(_exit: number, _confidence: number): void {}
}
