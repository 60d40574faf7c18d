import type { Clock } from "../core/Clock.js";
import type { Metrics } from "../metrics/Metrics.js";
import type { PipelineHooks } from "../pipeline/Pipeline.js";
import type { ServedModel } from "./loadServedModel.js";
import type { ModelSource } from "./ModelHost.js";

/** How often the budget state and the admission estimate are published. */
const PUBLISH_INTERVAL_MS = 1000;

/**
 * The served model's state as metrics: which version serves on which provider, the pipeline's
 * batches, exits and drops (hooks), and every second its budget (target and realised mean,
 * only where a budget applies), thresholds and admission wait estimate.
 */
export class ModelTelemetry {
  private timer: unknown;

  constructor(
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  /** Pipeline callbacks recording batches, queue depths, exits and drops. */
  hooks(): PipelineHooks {
    const m = this.metrics;
    return {
      batchRun: (stage, size, seconds) => {
        m.stageBatchSize.observe({ stage: stage + 1 }, size);
        m.stageDuration.observe({ stage: stage + 1 }, seconds);
      },
      queueDepth: (stage, depth) => m.queueDepth.set({ stage: stage + 1 }, depth),
      exitTaken: (exit, flops) => {
        m.exitsTaken.inc({ exit: exit + 1 });
        m.requestFlops.observe(flops);
      },
      dropped: (reason) => m.dropped.inc({ reason }),
    };
  }

  /** A version starts serving. */
  publishModel(served: ServedModel): void {
    const m = this.metrics;
    m.modelInfo.reset();
    m.modelInfo.set({ model: served.manifest.name, version: served.manifest.version, execution_provider: served.provider }, 1);
    m.exitThreshold.reset();
    this.publishBudget(served);
  }

  publishBudget(served: ServedModel): void {
    const m = this.metrics;
    const st = served.budget.status();
    st.thresholds.forEach((t, k) => {
      if (Number.isFinite(t)) m.exitThreshold.set({ exit: k + 1 }, t);
    });
    m.budgetTargetFlops.reset();
    m.budgetRealizedFlops.reset();
    if (st.mode !== "fixed") {
      m.budgetTargetFlops.set({ mode: st.mode }, st.targetFlops);
      if (st.observed > 0) m.budgetRealizedFlops.set({ mode: st.mode }, st.realizedFlops);
    }
    m.queueWaitEstimate.set(served.pipeline.estimatedWaitMs() / 1000);
  }

  /** Publishes the current version's budget every second until stop(). */
  start(models: ModelSource<ServedModel>): void {
    const tick = () => {
      this.publishBudget(models.current);
      this.timer = this.clock.setTimer(tick, PUBLISH_INTERVAL_MS);
    };
    tick();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
