import type { ThresholdRule } from "../scoring/thresholdRule.js";

/**
 * Exit policies' thresholds in memory the main thread and the engine workers share, so a worker
 * deciding exits reads them as the policy holds them now, with the charges of every request the
 * engine runs counted, whichever worker runs it. One slot per policy: the main thread publishes
 * the policy's ThresholdRule (thresholds, and how charges lower them); each worker keeps, in a
 * counter of its own, the charges of the requests it runs: a decision to go on adds its charge,
 * a request that answers takes its charges back (the policy hears of them with its answer, as
 * pending charges leave the budget controller's sum when a request is answered). The threshold
 * of exit k is sigmoid(baseLogits[k] + knob - knobPerFlop x running) for a policy that charges,
 * its published threshold otherwise. Each counter has one writer, so no locks: a reader sees a
 * value a moment old at worst.
 *
 * Layout of a slot (float64): [shifts (0/1), knob, knobPerFlop, thresholds x E, baseLogits x E,
 * charges x E, running charges by worker x W], E = exits - 1, W = workers.
 */
export class ThresholdBoard {
  private readonly values: Float64Array;
  private readonly decided: number;
  private readonly stride: number;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly exits: number,
    readonly workers: number,
  ) {
    this.decided = exits - 1;
    this.stride = 3 + 3 * this.decided + workers;
    this.values = new Float64Array(buffer);
  }

  /** A board of `slots` policies for a model of `exits` exits decided on `workers` engine workers. */
  static create(exits: number, workers: number, slots: number): ThresholdBoard {
    const stride = 3 + 3 * (exits - 1) + workers;
    return new ThresholdBoard(new SharedArrayBuffer(8 * stride * slots), exits, workers);
  }

  get slots(): number {
    return this.values.length / this.stride;
  }

  /** Main thread: policy `slot`'s thresholds now (its charges heard so far included). */
  publish(slot: number, rule: ThresholdRule): void {
    const v = this.values;
    const at = this.check(slot);
    const E = this.decided;
    const s = rule.shift;
    v[at] = s ? 1 : 0;
    v[at + 1] = s?.knob ?? 0;
    v[at + 2] = s?.knobPerFlop ?? 0;
    for (let k = 0; k < E; k++) {
      v[at + 3 + k] = rule.thresholds[k] ?? Number.NEGATIVE_INFINITY;
      v[at + 3 + E + k] = s?.baseLogits[k] ?? 0;
      v[at + 3 + 2 * E + k] = s?.charges[k] ?? 0;
    }
  }

  /** Main thread: `worker` stopped; the requests it ran were withdrawn with their charges, so its counters start again. */
  resetWorker(worker: number): void {
    const w = this.checkWorker(worker);
    for (let slot = 0; slot < this.slots; slot++) this.values[slot * this.stride + 3 + 3 * this.decided + w] = 0;
  }

  /** Exit `k`'s threshold for policy `slot` now, counting the charges of every request the engine runs. */
  threshold(slot: number, k: number): number {
    const v = this.values;
    const at = this.check(slot);
    const E = this.decided;
    if (k >= E) return Number.NEGATIVE_INFINITY;
    if (v[at] !== 1) return v[at + 3 + k]!;
    const running = this.running(slot);
    if (running <= 0) return v[at + 3 + k]!;
    return 1 / (1 + Math.exp(-(v[at + 3 + E + k]! + v[at + 1]! - v[at + 2]! * running)));
  }

  /** The charges of the requests of policy `slot` the engine runs now, every worker's. */
  running(slot: number): number {
    const counters = this.check(slot) + 3 + 3 * this.decided;
    let flops = 0;
    for (let w = 0; w < this.workers; w++) flops += this.values[counters + w]!;
    return flops;
  }

  /** Engine: `worker` decided that a request of policy `slot` goes on past exit `k`; returns what that charges (counted until release). */
  charge(slot: number, worker: number, k: number): number {
    const at = this.check(slot);
    const E = this.decided;
    const flops = k < E ? this.values[at + 3 + 2 * E + k]! : 0;
    this.values[at + 3 + 3 * E + this.checkWorker(worker)]! += flops;
    return flops;
  }

  /** Engine: a request of policy `slot` that `worker` ran answered (or failed): its charges, `flops`, leave the count. */
  release(slot: number, worker: number, flops: number): void {
    this.values[this.check(slot) + 3 + 3 * this.decided + this.checkWorker(worker)]! -= flops;
  }

  private check(slot: number): number {
    if (!(slot >= 0 && slot < this.slots) || !Number.isInteger(slot)) throw new RangeError(`threshold board slot ${slot}: expected 0-${this.slots - 1}`);
    return slot * this.stride;
  }

  private checkWorker(worker: number): number {
    if (!(worker >= 0 && worker < this.workers) || !Number.isInteger(worker))
      throw new RangeError(`threshold board worker ${worker}: expected 0-${this.workers - 1}`);
    return worker;
  }
}
