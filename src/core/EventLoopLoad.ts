import { performance } from "node:perf_hooks";
import type { Clock } from "./Clock.js";

/** Cumulative milliseconds the event loop spent idle and active (performance.eventLoopUtilization()). */
export interface LoopTimes {
  idle: number;
  active: number;
}

/**
 * How busy the main thread's event loop was over the last window: the share of the window it
 * spent running callbacks rather than waiting for events, refreshed every `windowMs` by a timer
 * of the injected clock (which never keeps the process alive). 0 until the first window ends.
 */
export class EventLoopLoad {
  private last: LoopTimes;
  private value = 0;
  private timer: unknown;
  /** Called with each window's utilization as it ends (e.g. to export it). */
  onWindow: (utilization: number) => void = () => {};

  constructor(
    private readonly clock: Clock,
    readonly windowMs = 100,
    private readonly read: () => LoopTimes = () => performance.eventLoopUtilization(),
  ) {
    this.last = read();
    this.schedule();
  }

  /** The busy share of the last window, 0 to 1. */
  get utilization(): number {
    return this.value;
  }

  stop(): void {
    this.clock.clearTimer(this.timer);
  }

  private schedule(): void {
    this.timer = this.clock.setTimer(() => {
      const now = this.read();
      const active = now.active - this.last.active;
      const total = active + now.idle - this.last.idle;
      this.value = total > 0 ? active / total : 0;
      this.last = now;
      this.schedule(); // before onWindow: a stop() from it clears the next window's timer
      this.onWindow(this.value);
    }, this.windowMs);
  }
}
