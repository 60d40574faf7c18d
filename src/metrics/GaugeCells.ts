import type client from "prom-client";

type Labels = Record<string, string | number>;

/** What a hot path sets: a series' latest value, and whether it changed since the gauge was last read. */
export interface GaugeCell {
  value: number;
  changed: boolean;
}

/**
 * The series of a prom-client gauge that a hot path sets as plain numbers (a queue depth, set at
 * every request): a cell per label set, made once. A cell set since the gauge was last read
 * reaches it when it is read (flush, its collect hook: every scrape and every get()); one not
 * set since stays as it is, so a removed series comes back only when set again.
 */
export class GaugeCells<L extends string> {
  private readonly cells = new Map<string, { labels: Labels; cell: GaugeCell }>();

  constructor(private readonly gauge: client.Gauge<L>) {}

  /** The cell of `labels` (the same one for the same labels). */
  cell(labels: Partial<Record<L, string | number>>): GaugeCell {
    const key = JSON.stringify(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels: { ...labels } as Labels, cell: { value: 0, changed: false } };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Sets the gauge's series whose cells changed since the last flush. */
  flush(): void {
    for (const { labels, cell } of this.cells.values()) {
      if (!cell.changed) continue;
      this.gauge.set(labels as Partial<Record<L, string | number>>, cell.value);
      cell.changed = false;
    }
  }
}
