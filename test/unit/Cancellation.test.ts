import { describe, expect, it } from "vitest";
import { Cancellation } from "../../src/core/Cancellation.js";

describe("Cancellation", () => {
  it("runs each handler once at cancel, not one taken off, and at once one added after", () => {
    const c = new Cancellation();
    const ran: string[] = [];
    c.onCancel(() => ran.push("a"));
    const off = c.onCancel(() => ran.push("b"));
    off();
    expect(c.cancelled).toBe(false);
    c.cancel();
    c.cancel();
    expect(ran).toEqual(["a"]);
    expect(c.cancelled).toBe(true);
    c.onCancel(() => ran.push("late"));
    expect(ran).toEqual(["a", "late"]);
  });
});
