/**
 * Decides where samples leave the network. The pipeline reads the thresholds once per
 * batch and reports every answered request's spent FLOPs, so a controller can close the loop.
 */
export interface ExitPolicy {
  /** Confidence threshold per exit (the last one is ignored: everything exits there). */
  thresholds(): readonly number[];
  /** Called once per answered request with the multiply-adds it spent. */
  observe(flops: number): void;
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
  observe(_flops: number): void {}
}
