import { describe, expect, it } from "vitest";
import { ServingError } from "../../src/core/errors.js";

describe("ServingError", () => {
  it("keeps a stack trace only for internal errors, and leaves Error.stackTraceLimit as it was", () => {
    const before = Error.stackTraceLimit;
    const refusal = new ServingError("resource_exhausted", "queue full");
    expect(refusal.stack?.split("\n")).toHaveLength(1); // the message line, no frames
    expect(Error.stackTraceLimit).toBe(before);
    const bug = new ServingError("internal", "stage 3 failed");
    expect(bug.stack?.split("\n").length).toBeGreaterThan(1);
    expect(new Error("plain").stack?.split("\n").length).toBeGreaterThan(1);
    expect([refusal.kind, refusal.message, refusal.name, refusal instanceof Error]).toEqual(["resource_exhausted", "queue full", "ServingError", true]);
  });
});
