import type { Clock } from "../core/Clock.js";
import type { Metrics, ModelLabels } from "../metrics/Metrics.js";
import type { PipelineHooks } from "../pipeline/Pipeline.js";
import type { ServedModel } from "./loadServedModel.js";

/** How often the budget state and the admission estimate are published. */
const PUBLISH_INTERVAL_MS = 1000;

export const labelsOf = (m: { manifest: { name: string; version: string } }): ModelLabels => ({ model: m.manifest.name, version: m.manifest.version });

/**
 * The served models' state as metrics, every series labelled with model and version: which
 * versions serve on which provider, each pipeline's batches, exits and drops (hooks), and every
 * second each version's budget (target and moving average, only where a budget applies),
 * thresholds and admission wait estimate.
 */
export class ModelTelemetry {
  private timer: unknown;

  constructor(
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  /**
   * Pipeline callbacks of one model version recording batches, queue depths, exits and drops.
   * Each series' label set is made once (a new object per answer was garbage on the main thread);
   * an answer adds to its counters' cells and a queue depth sets its gauge's cell (MetricCells),
   * which reach them when they are read; batches observe their histograms' series (CellHistogram).
   */
  hooksFor(labels: ModelLabels): PipelineHooks {
    const m = this.metrics;
    // a stage's histogram series start with its first batch, its queue depth with its first report
    const batches = memo((k: number) => {
      const at = { ...labels, stage: k + 1 };
      return { size: m.stageBatchSize.cell(at), seconds: m.stageDuration.cell(at) };
    });
    const depth = memo((k: number) => m.queueDepthCells.cell({ ...labels, stage: k + 1 }));
    const exit = memo((k: number) => m.exitCells.cell({ ...labels, exit: k + 1 }));
    const tenant = memo((t: string) => ({
      requests: m.tenantRequestCells.cell({ ...labels, tenant: t }),
      flops: m.tenantFlopCells.cell({ ...labels, tenant: t }),
    }));
    return {
      batchRun: (k, size, seconds) => {
        const s = batches(k);
        s.size.observe(size);
        s.seconds.observe(seconds);
      },
      queueDepth: (k, waiting) => {
        const cell = depth(k);
        cell.value = waiting;
        cell.changed = true;
      },
      exitTaken: (k, flops, tenantName) => {
        exit(k).value++;
        m.requestFlops.observe(labels, flops);
        const t = tenant(tenantName ?? "other");
        t.requests.value++;
        t.flops.value += flops;
      },
      dropped: (reason) => m.dropped.inc({ ...labels, reason }),
    };
  }

  /** A version starts (`serving`) or stops serving. */
  publishModel(served: ServedModel, serving: boolean): void {
    const labels = labelsOf(served);
    if (!serving) {
      void this.metrics.removeModel(labels);
      return;
    }
    this.metrics.addModel(
      labels,
      served.manifest.exits.map((e) => e.flops),
    );
    this.metrics.modelInfo.set({ ...labels, execution_provider: served.provider }, 1);
    this.publishBudget(served);
  }

  publishBudget(served: ServedModel): void {
    const m = this.metrics;
    const labels = labelsOf(served);
    const st = served.budget.status();
    st.thresholds.forEach((t, k) => {
      if (Number.isFinite(t)) m.exitThreshold.set({ ...labels, exit: k + 1 }, t);
      else m.exitThreshold.remove({ ...labels, exit: k + 1 });
    });
    if (st.mode !== "fixed") {
      m.budgetTargetFlops.set({ ...labels, mode: st.mode }, st.targetFlops);
      if (st.observed > 0) m.budgetRealizedFlops.set({ ...labels, mode: st.mode }, st.realizedFlops);
    }
    m.queueWaitEstimate.set(labels, served.pipeline.estimatedWaitMs() / 1000);
  }

  /** Publishes every served version's budget every second until stop(). */
  start(served: () => readonly ServedModel[]): void {
    const tick = () => {
      for (const s of served()) this.publishBudget(s);
      this.timer = this.clock.setTimer(tick, PUBLISH_INTERVAL_MS);
    };
    tick();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}

/** `make` memoised by its argument (label values: bounded by the model's exits and the configured tenants). */
function memo<K, V>(make: (key: K) => V): (key: K) => V {
  const made = new Map<K, V>();
  return (key) => {
    let v = made.get(key);
    if (v === undefined) {
      v = make(key);
      made.set(key, v);
    }
    return v;
  };
}
