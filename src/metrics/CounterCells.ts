import type client from "prom-client";

type Labels = Record<string, string | number>;

/** What a hot path adds to: a series' count since the counter was last read. */
export interface CounterCell {
  value: number;
}

/**
 * The series of a prom-client counter that a hot path adds to as plain numbers: a cell per
 * label set, made once, so an answer costs no label hashing, validation or allocation (prom-client's
 * inc does all three). The cells reach the counter whenever it is read (flush, its collect hook:
 * every scrape and every get()), so readers see every count.
 */
export class CounterCells<L extends string> {
  private readonly cells = new Map<string, { labels: Labels; cell: CounterCell }>();

  constructor(private readonly counter: client.Counter<L>) {}

  /** The cell of `labels` (the same one for the same labels). */
  cell(labels: Partial<Record<L, string | number>>): CounterCell {
    const key = JSON.stringify(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels: { ...labels } as Labels, cell: { value: 0 } };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Adds what the cells counted since the last flush to the counter. */
  flush(): void {
    for (const { labels, cell } of this.cells.values()) {
      if (cell.value === 0) continue;
      this.counter.inc(labels as Partial<Record<L, string | number>>, cell.value);
      cell.value = 0;
    }
  }
}
