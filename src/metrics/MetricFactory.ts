import client from "prom-client";
import { CellHistogram } from "./CellHistogram.js";

type Labels = Partial<Record<string, string | number>>;

/** What removal needs of a metric: its series (public get) and removal by exact label set. */
interface Removable {
  get(): Promise<{ values: { labels: Labels }[] }>;
  remove(labels: Labels): void;
}

/**
 * Makes the registry's instruments. Every instrument labelled by both `model` and `version` is
 * recorded as per-version when it is made, so removing a model version's series covers each one
 * declared that way (no hand-kept list to forget one in).
 */
export class MetricFactory {
  private readonly perVersion: Removable[] = [];

  constructor(private readonly registry: client.Registry) {}

  /** A counter; `collect` runs whenever it is read (a scrape, get()), before its values are taken. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: () => void): client.Counter<L> {
    return this.track(new client.Counter({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) }), labelNames);
  }

  /** A gauge; `collect` as for counter. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: () => void): client.Gauge<L> {
    return this.track(new client.Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) }), labelNames);
  }

  /** A histogram whose series hot paths observe through their cells (CellHistogram). */
  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): CellHistogram<L> {
    const h = new CellHistogram(name, help, labelNames, buckets);
    this.registry.registerMetric(h as unknown as client.Metric);
    return this.track(h, labelNames);
  }

  /**
   * Removes every series of the per-version instruments whose model and version labels are these,
   * with prom-client's public get() and remove(labels); unless `stillWanted()` says the version
   * came back meanwhile (get() is asynchronous: a version served again at once keeps its series).
   */
  async removeVersion(model: string, version: string, stillWanted: () => boolean = () => false): Promise<void> {
    const series = await Promise.all(this.perVersion.map((m) => m.get()));
    if (stillWanted()) return;
    for (const [i, metric] of this.perVersion.entries()) {
      const sets = new Map<string, Labels>();
      for (const { labels } of series[i]!.values) {
        if (labels.model !== model || labels.version !== version) continue;
        const { le: _bucket, ...own } = labels; // a histogram lists each label set once per bucket
        sets.set(JSON.stringify(own), own);
      }
      for (const labels of sets.values()) metric.remove(labels);
    }
  }

  private track<M>(metric: M, labelNames: readonly string[]): M {
    if (labelNames.includes("model") && labelNames.includes("version")) this.perVersion.push(metric as unknown as Removable);
    return metric;
  }
}
