import type client from "prom-client";
import { BucketCounts } from "./BucketCounts.js";

type Labels = Partial<Record<string, string | number>>;

/**
 * A histogram registered as a prom-client metric whose series a hot path observes into directly:
 * cell(labels) gives a series' BucketCounts once, and observing it hashes, validates and
 * allocates nothing. Exposed as prom-client exposes a histogram (buckets by `le`, +Inf, _sum,
 * _count); remove(labels) drops a series (MetricFactory removes a model version's this way).
 */
export class CellHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, { labels: Labels; counts: BucketCounts }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly buckets: readonly number[],
  ) {}

  /** The series of `labels` (the same one for the same label values). */
  cell(labels: Partial<Record<L, string | number>>): BucketCounts {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: new BucketCounts(this.buckets) };
      this.series.set(key, s);
    }
    return s.counts;
  }

  /** Observes `value` in the series of `labels` (cold paths; hot ones keep the cell). */
  observe(labels: Partial<Record<L, string | number>>, value: number): void {
    this.cell(labels).observe(value);
  }

  remove(labels: Partial<Record<L, string | number>>): void {
    this.series.delete(this.keyOf(labels));
  }

  async get(): Promise<client.MetricObjectWithValues<client.MetricValueWithName<string>>> {
    const values: client.MetricValueWithName<string>[] = [];
    for (const { labels, counts } of this.series.values()) values.push(...counts.values(this.name, labels as Record<string, string | number>));
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: this.aggregator } as unknown as client.MetricObjectWithValues<
      client.MetricValueWithName<string>
    >;
  }

  /** Zeroes every series and keeps it (hot paths hold their cells), where prom-client's reset drops them. */
  reset(): void {
    for (const s of this.series.values()) s.counts.reset();
  }

  private keyOf(labels: Partial<Record<L, string | number>>): string {
    return this.labelNames.map((n) => String(labels[n] ?? "")).join("\u0000");
  }
}
