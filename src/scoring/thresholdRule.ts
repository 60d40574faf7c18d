/**
 * An exit policy's thresholds as data, for exits decided away from the policy (in the engine):
 * the thresholds now, and, for a policy that moves them as it charges decisions to go on (the
 * budget controller's commit-time term), how they move: the threshold of exit k after `charged`
 * multiply-adds of decisions it has not heard of is sigmoid(baseLogits[k] + knob - knobPerFlop x
 * charged), and going on past exit k charges `charges[k]`. A decider that counts the decisions
 * made since (ThresholdBoard) so keeps the policy's per-decision accounting until it hears of them.
 */
export interface ThresholdRule {
  /** Confidence threshold per exit now (the last exit takes everything). */
  thresholds: readonly number[];
  shift?: { baseLogits: readonly number[]; knob: number; knobPerFlop: number; charges: readonly number[] };
}
