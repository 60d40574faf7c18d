import { LoadGovernor } from "../budget/LoadGovernor.js";
import type { Config } from "../config/config.js";
import type { Clock } from "../core/Clock.js";
import type { Metrics } from "../metrics/Metrics.js";
import type { ServedModel } from "../model/loadServedModel.js";

/** How often load-adaptive mode looks at the queue. */
const LOAD_GOVERNOR_INTERVAL_MS = 100;

/** Load-adaptive mode scales a served version's own budget and every tenant budget of it alike. */
function setLoadFactor(served: ServedModel, factor: number): void {
  for (const b of [served.budget, ...served.tenantBudgets.values()]) b.setLoadFactor(factor);
}

/**
 * Load-adaptive mode: one LoadGovernor per model with `loadAdaptive` set, steering by its newest
 * version's queue, created when the model gets its first served version and stopped when it
 * loses its last. Governors tick only between start() and stop().
 */
export class LoadGovernors {
  private readonly governors = new Map<string, LoadGovernor>();
  private started = false;

  constructor(
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  /** A model got its first served version (`up`) or lost its last (the repository's onModel). */
  onModel(name: string, up: boolean, settings: Config, current: () => ServedModel | undefined): void {
    this.governors.get(name)?.stop();
    this.governors.delete(name);
    this.metrics.budgetLoadFactor.remove({ model: name });
    if (!up) return;
    this.metrics.budgetLoadFactor.set({ model: name }, 1);
    if (!settings.loadAdaptive) return;
    const g = new LoadGovernor({
      clock: this.clock,
      intervalMs: LOAD_GOVERNOR_INTERVAL_MS,
      waitMs: () => current()?.pipeline.estimatedWaitMs() ?? 0,
      maxWaitMs: settings.maxQueueWaitMs,
      minFactor: settings.loadAdaptiveMinFactor,
      apply: (f) => {
        const c = current();
        if (c) setLoadFactor(c, f);
        this.metrics.budgetLoadFactor.set({ model: name }, f);
      },
    });
    this.governors.set(name, g);
    if (this.started) g.start();
  }

  /** A version starts serving: it takes its model's current load factor. */
  onServe(served: ServedModel, serving: boolean): void {
    const g = this.governors.get(served.manifest.name);
    if (serving && g) setLoadFactor(served, g.loadFactor);
  }

  start(): void {
    this.started = true;
    for (const g of this.governors.values()) g.start();
  }

  stop(): void {
    this.started = false;
    for (const g of this.governors.values()) g.stop();
  }
}
