import type client from "prom-client";

type Labels = Partial<Record<string, string | number>>;

/** What a hot path adds to: a counter series' count since the counter was last read. */
export interface CounterCell {
  value: number;
}

/** What a hot path sets: a gauge series' latest value, and whether it changed since the gauge was last read. */
export interface GaugeCell {
  value: number;
  changed: boolean;
}

/**
 * The series of a prom-client metric that a hot path updates as plain numbers: a cell per label
 * set, made once, so an update costs no label hashing, validation or allocation (prom-client's
 * inc, set and observe do all three). The cells reach the metric whenever it is read (flush, its
 * collect hook: every scrape and every get()), so readers see every update.
 */
export class MetricCells<L extends string, C> {
  private readonly cells = new Map<string, { labels: Labels; cell: C }>();

  constructor(
    private readonly make: () => C,
    /** Hands one cell's updates to the metric (and resets what it handed over). */
    private readonly write: (labels: Partial<Record<L, string | number>>, cell: C) => void,
  ) {}

  /** The cell of `labels` (the same one for the same labels). */
  cell(labels: Partial<Record<L, string | number>>): C {
    const key = JSON.stringify(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, cell: this.make() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Hands every cell's updates since the last flush to the metric. */
  flush(): void {
    for (const { labels, cell } of this.cells.values()) this.write(labels as Partial<Record<L, string | number>>, cell);
  }
}

/** Cells a counter counts in: what each added since the counter was last read. */
export function counterCells<L extends string>(counter: client.Counter<L>): MetricCells<L, CounterCell> {
  return new MetricCells<L, CounterCell>(
    () => ({ value: 0 }),
    (labels, cell) => {
      if (cell.value === 0) return;
      counter.inc(labels, cell.value);
      cell.value = 0;
    },
  );
}

/**
 * Cells a gauge takes its values from: one set since the gauge was last read sets it; one not set
 * since leaves it as it is, so a removed series comes back only when set again.
 */
export function gaugeCells<L extends string>(gauge: client.Gauge<L>): MetricCells<L, GaugeCell> {
  return new MetricCells<L, GaugeCell>(
    () => ({ value: 0, changed: false }),
    (labels, cell) => {
      if (!cell.changed) return;
      gauge.set(labels, cell.value);
      cell.changed = false;
    },
  );
}
