import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { loadCalibration } from "../engine/calibration.js";
import type { Manifest } from "../engine/manifest.js";
import type { Metrics } from "../metrics/Metrics.js";
import type { Clock } from "../pipeline/Clock.js";
import { StaticExitPolicy, type ExitPolicy } from "../pipeline/ExitPolicy.js";
import { BudgetController } from "./BudgetController.js";
import { offlineTable, pointForBudget, scoresFromLogits, type TablePoint } from "./thresholdTable.js";

/** Chooses the exit policy at start: fixed thresholds, the offline table point, or the online controller. */
export class BudgetSetup {
  private constructor(
    readonly policy: ExitPolicy,
    readonly table: readonly TablePoint[],
    readonly controller: BudgetController | undefined,
    private readonly timer: NodeJS.Timeout | undefined,
  ) {}

  static async create(manifest: Manifest, config: Config, _clock: Clock, metrics: Metrics, log: Logger): Promise<BudgetSetup> {
    const exitFlops = manifest.exits.map((e) => e.flops);
    const K = exitFlops.length;
    const last = exitFlops[K - 1]!;
    const targetFlops = config.budgetTarget <= 1 ? config.budgetTarget * last : config.budgetTarget;
    metrics.budgetTargetFlops.set(targetFlops);
    if (config.thresholds) {
      if (config.thresholds.length !== K && config.thresholds.length !== K - 1) {
        throw new Error(`config key 'thresholds': expected ${K - 1} or ${K} values (one per exit), got ${config.thresholds.length}`);
      }
      const t = [...config.thresholds.slice(0, K - 1), Number.NEGATIVE_INFINITY];
      log.info({ thresholds: t }, "fixed thresholds from config");
      return BudgetSetup.finish(new StaticExitPolicy(t), [], undefined, metrics);
    }
    const table = offlineTable(scoresFromLogits(await loadCalibration(manifest)), exitFlops);
    const point = pointForBudget(table, targetFlops);
    log.info(
      { targetFlops, p: point.p, expectedFlops: Math.round(point.expectedFlops), calibrationAccuracy: point.accuracy, controller: config.controller },
      "offline table point for the budget target",
    );
    if (!config.controller) return BudgetSetup.finish(new StaticExitPolicy(point.thresholds), table, undefined, metrics);
    const controller = new BudgetController({ exitFlops, baseThresholds: point.thresholds, targetFlops });
    return BudgetSetup.finish(controller, table, controller, metrics);
  }

  private static finish(policy: ExitPolicy, table: TablePoint[], controller: BudgetController | undefined, metrics: Metrics): BudgetSetup {
    const publish = () => {
      policy.thresholds().forEach((t, k) => Number.isFinite(t) && metrics.exitThreshold.set({ exit: k + 1 }, t));
      if (controller) {
        metrics.budgetRealizedFlops.set(controller.realizedFlops);
        metrics.budgetTargetFlops.set(controller.targetFlops);
      }
    };
    publish();
    const timer = setInterval(publish, 1000);
    timer.unref();
    return new BudgetSetup(policy, table, controller, timer);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
