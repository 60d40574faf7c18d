import type client from "prom-client";
import { BucketCounts } from "./BucketCounts.js";

/** Labels of every per-model series: the model's name and the served version (bounded by the repository). */
export type ModelLabels = { model: string; version: string };

/** One model version as a map key. */
export const versionKey = (l: ModelLabels): string => `${l.model}\u0000${l.version}`;

/**
 * A histogram family whose buckets differ per model (at each model's exit FLOPs): one series of
 * BucketCounts per (model, version), exported as one family with model and version labels.
 */
export class PerModelHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly parts = new Map<string, { labels: ModelLabels; counts: BucketCounts }>();
  /** Each part by the labels object its caller keeps (a pipeline's hooks): an answer looks it up without building its key. */
  private byLabels = new WeakMap<ModelLabels, BucketCounts>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Starts the series of a model version with its buckets (again: keeps the existing). */
  add(labels: ModelLabels, buckets: readonly number[]): void {
    const key = versionKey(labels);
    if (!this.parts.has(key)) this.parts.set(key, { labels, counts: new BucketCounts([...buckets]) });
    this.byLabels = new WeakMap();
  }

  remove(labels: ModelLabels): void {
    this.parts.delete(versionKey(labels));
    this.byLabels = new WeakMap();
  }

  observe(labels: ModelLabels, value: number): void {
    let counts = this.byLabels.get(labels);
    if (!counts) {
      counts = this.parts.get(versionKey(labels))?.counts;
      if (!counts) return;
      this.byLabels.set(labels, counts);
    }
    counts.observe(value);
  }

  async get(): Promise<client.MetricObjectWithValues<client.MetricValueWithName<string>>> {
    const values: client.MetricValueWithName<string>[] = [];
    for (const { labels, counts } of this.parts.values()) values.push(...counts.values(this.name, labels));
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: this.aggregator } as unknown as client.MetricObjectWithValues<
      client.MetricValueWithName<string>
    >;
  }

  reset(): void {
    for (const p of this.parts.values()) p.counts.reset();
  }
}
