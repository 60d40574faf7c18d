import { describe, expect, it } from "vitest";
import { LoadGovernor } from "../../src/budget/LoadGovernor.js";
import { FakeClock } from "../support/FakeClock.js";

function setup(minFactor = 0.3) {
  const clock = new FakeClock();
  let wait = 0;
  const applied: number[] = [];
  const g = new LoadGovernor({ clock, intervalMs: 100, waitMs: () => wait, maxWaitMs: 100, minFactor, apply: (f) => applied.push(f) });
  return { g, clock, applied, setWait: (ms: number) => (wait = ms) };
}

describe("LoadGovernor", () => {
  it("cuts the target while the queue is long, down to the floor, and raises it back step by step when short", async () => {
    const { g, clock, applied, setWait } = setup(0.3);
    g.start();
    await clock.advance(300);
    expect(applied).toEqual([]); // idle queue: stays at 1, nothing applied
    setWait(80); // over half of maxWaitMs
    await clock.advance(100);
    expect(g.loadFactor).toBeCloseTo(0.75);
    await clock.advance(1000);
    expect(g.loadFactor).toBe(0.3); // floored
    const atFloor = applied.length;
    setWait(40); // between the marks: hold
    await clock.advance(500);
    expect(applied.length).toBe(atFloor);
    setWait(5); // short: additive increase
    await clock.advance(100);
    expect(g.loadFactor).toBeCloseTo(0.35);
    await clock.advance(2000);
    expect(g.loadFactor).toBe(1);
    expect(applied.at(-1)).toBe(1);
    g.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects a floor outside (0, 1]", () => {
    expect(() => setup(0)).toThrow(/minFactor/);
    expect(() => setup(1.5)).toThrow(/minFactor/);
  });
});
