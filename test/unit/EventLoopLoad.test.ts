import { describe, expect, it } from "vitest";
import { EventLoopLoad, type LoopTimes } from "../../src/core/EventLoopLoad.js";
import { FakeClock } from "../support/FakeClock.js";

describe("EventLoopLoad", () => {
  it("reports the busy share of the last window, window by window, and stops", async () => {
    const clock = new FakeClock();
    const times: LoopTimes = { idle: 0, active: 0 };
    const load = new EventLoopLoad(clock, 100, () => ({ ...times }));
    const seen: number[] = [];
    load.onWindow = (u) => seen.push(u);
    expect(load.utilization).toBe(0); // no window has ended yet
    times.active += 90;
    times.idle += 10;
    await clock.advance(100);
    expect(load.utilization).toBeCloseTo(0.9);
    times.active += 25;
    times.idle += 75;
    await clock.advance(100);
    expect(load.utilization).toBeCloseTo(0.25); // the last window only, not the average since start
    load.stop();
    times.active += 100;
    await clock.advance(300);
    expect(load.utilization).toBeCloseTo(0.25);
    expect(clock.pendingTimers).toBe(0);
    expect(seen.map((u) => u.toFixed(2))).toEqual(["0.90", "0.25"]);
  });
});
