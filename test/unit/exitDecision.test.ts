import { describe, expect, it } from "vitest";
import { exitDecision } from "../../src/scoring/exitDecision.js";

describe("exitDecision", () => {
  const adaptive = { fixed: false, maxExit: 4 };
  const never = () => {
    throw new Error("the threshold was read where it decides nothing");
  };

  it("answers when the confidence reaches the threshold, else forwards", () => {
    expect(exitDecision(1, 5, 0.9, () => 0.8, adaptive)).toBe("confident");
    expect(exitDecision(1, 5, 0.8, () => 0.8, adaptive)).toBe("confident");
    expect(exitDecision(1, 5, 0.7, () => 0.8, adaptive)).toBe("forward");
  });

  it("answers at the last exit, at the deepest exit the budget affords, and at a fixed exit, without reading a threshold", () => {
    expect(exitDecision(4, 5, 0.1, never, adaptive)).toBe("last");
    expect(exitDecision(2, 5, 0.1, never, { fixed: false, maxExit: 2 })).toBe("budget");
    expect(exitDecision(2, 5, 0.1, never, { fixed: true, maxExit: 2 })).toBe("fixed");
    expect(exitDecision(4, 5, 0.1, never, { fixed: true, maxExit: 4 })).toBe("fixed");
  });

  it("never answers a fixed exit early, however confident", () => {
    expect(exitDecision(0, 5, 1, never, { fixed: true, maxExit: 3 })).toBe("forward");
  });
});
