import type client from "prom-client";

type Labels = Record<string, string | number>;
type Value = client.MetricValueWithName<string>;

/**
 * One histogram series counted as plain numbers: observations per bucket (each upper bound,
 * then +Inf), their sum and count. An observation is a bucket search and three additions (prom-client's
 * observe also hashes and validates its labels and allocates per call); `values` gives the
 * series as prom-client exposes a histogram's.
 */
export class BucketCounts {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts `value` (a value that is not finite is left out, where prom-client would throw). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The series' lines of histogram `name`: cumulative buckets by `le`, +Inf, _sum and _count, each with `labels`. */
  values(name: string, labels: Labels): Value[] {
    const out: Value[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i]!;
      out.push({ labels: { le, ...labels }, value: cumulative, metricName: `${name}_bucket` });
    });
    out.push({ labels: { le: "+Inf", ...labels }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels: { ...labels }, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels: { ...labels }, value: this.count, metricName: `${name}_count` });
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
