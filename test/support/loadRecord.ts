/** What both closed-loop load generators (loadgen.ts, rawStreamLoad.ts) report. */
export interface LoadResult {
  requests: number;
  errors: Record<string, number>;
  seconds: number;
  throughput: number;
  meanFlops: number;
  latencyMs: { p50: number; p95: number; p99: number };
  exits: number[];
}

/** The p-quantile of `xs` (sorted in place), NaN when empty. */
export function quantile(xs: number[], p: number): number {
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
}

/** The requests in flight on each of `streams` streams, `total` in all. */
export function inFlightPerStream(total: number, streams: number): number[] {
  return Array.from({ length: streams }, (_, k) => Math.floor(total / streams) + (k < total % streams ? 1 : 0));
}

/** What a closed-loop load counts: answers and refusals inside its measuring window only. */
export class LoadRecord {
  private on = false;
  private n = 0;
  private flops = 0;
  private readonly latMs: number[] = [];
  private readonly errors: Record<string, number> = {};
  private readonly exits: number[] = [];

  /** An OK answer from 1-based `exit`, `latencyMs` after its request was sent (undefined: unknown). */
  answered(exit: number, flops: number, latencyMs: number | undefined): void {
    if (!this.on) return;
    this.n++;
    this.flops += flops;
    if (latencyMs !== undefined) this.latMs.push(latencyMs);
    this.exits[exit - 1] = (this.exits[exit - 1] ?? 0) + 1;
  }

  /** A refused or failed request, by status code. */
  refused(code: string): void {
    if (this.on) this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  /** Waits out the warm-up, then counts for `durationMs` (onWindow at both edges); the window's seconds. */
  async measure(o: { durationMs: number; warmupMs?: number; onWindow?: (edge: "start" | "end") => void }): Promise<number> {
    await new Promise((r) => setTimeout(r, o.warmupMs ?? 1500));
    this.on = true;
    o.onWindow?.("start");
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.durationMs));
    this.on = false;
    o.onWindow?.("end");
    return (performance.now() - t0) / 1000;
  }

  result(seconds: number): LoadResult {
    const q = (p: number) => quantile(this.latMs, p);
    return {
      requests: this.n,
      errors: this.errors,
      seconds,
      throughput: this.n / seconds,
      meanFlops: this.flops / Math.max(1, this.n),
      latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99) },
      exits: Array.from(this.exits, (x) => x ?? 0),
    };
  }
}
