/** Why a sample answered at an exit: confident enough, the last exit, its fixed exit, or the deepest its budget affords. */
export type DecidedExit = "confident" | "last" | "fixed" | "budget";

/** What a sample does after exit `stage` scored it: answer from it (and why), or go on to the next stage. */
export type ExitDecision = DecidedExit | "forward";

/** The reasons in a fixed order, for the engine's packed answers. */
export const DECIDED_EXITS: readonly DecidedExit[] = ["confident", "last", "fixed", "budget"];

/**
 * The exit decision, a pure function: a sample answers at its fixed exit or the deepest its
 * budget affords (`maxExit`), at the last exit, or when its confidence reaches the exit's
 * threshold (never at a fixed exit before it); otherwise it goes on. `threshold` reads the
 * sample's exit policy, only when a threshold decides; the caller makes the policy's charges
 * around the decision.
 */
export function exitDecision(stage: number, exits: number, confidence: number, threshold: () => number, s: { fixed: boolean; maxExit: number }): ExitDecision {
  if (stage >= s.maxExit || stage >= exits - 1) return s.fixed ? "fixed" : stage === exits - 1 ? "last" : "budget";
  if (!s.fixed && confidence >= threshold()) return "confident";
  return "forward";
}
