import type { Logger } from "pino";
import type { BudgetManager } from "../budget/BudgetManager.js";
import { targetFlopsOf } from "../budget/budgetTarget.js";
import { createBudget, type ExitScoring } from "../budget/createBudget.js";
import type { Config, TenantConfig } from "../config/config.js";
import type { Clock } from "../core/Clock.js";
import type { EventLoopLoad } from "../core/EventLoopLoad.js";
import type { UsableCpus } from "../core/usableCpus.js";
import type { EnginePool } from "../engine/EnginePool.js";
import { OrtEngine } from "../engine/OrtEngine.js";
import type { StageRunner } from "../engine/StageRunner.js";
import type { Manifest } from "../format/manifest.js";
import { Classifier } from "../pipeline/Classifier.js";
import { InferenceStatistics } from "../pipeline/InferenceStatistics.js";
import { Pipeline, type PipelineHooks } from "../pipeline/Pipeline.js";
import type { SchedulerLoop } from "../scheduler/SchedulerLoop.js";
import type { HostedModel } from "./ModelHost.js";

/** One loaded model version: its sessions, budget state, pipeline and request front. */
export interface ServedModel extends HostedModel {
  readonly manifest: Manifest;
  /** The execution provider its sessions run on. */
  readonly provider: string;
  readonly classifier: Classifier;
  readonly budget: BudgetManager;
  /** The budgets of the configured tenants (config tenants) for this model, by tenant name. */
  readonly tenantBudgets: ReadonlyMap<string, BudgetManager>;
  /** The exit scoring rule and the accuracy of its answers at each exit. */
  readonly scoring: ExitScoring;
  readonly pipeline: Pipeline;
  /** Request statistics of this version (Triton's ModelStatistics). */
  readonly stats: InferenceStatistics;
  /** Engine worker threads running its stages. */
  readonly workers: number;
  /** Runs single stages directly (tests and tools; requests go through the pipeline). */
  readonly engine: StageRunner;
}

export interface ServedModelDeps {
  config: Config;
  clock: Clock;
  /** A child of the root logger per component (children of children would repeat the key). */
  logFor(component: "model" | "engine" | "budget" | "pipeline"): Logger;
  /** Metrics callbacks of one model version's pipeline (labelled with its model and version). */
  hooksFor(labels: { model: string; version: string }): PipelineHooks;
  /** The CPUs the process may use (automatic engine worker count). */
  cpus: UsableCpus;
  /** The engine worker threads every model version's sessions live in. */
  pool: EnginePool;
  /** The scheduler of those workers: every model version's stage queues join it. */
  scheduler: SchedulerLoop;
  /** The main thread's event-loop load, for priorityYieldUtilization (absent: lower levels never yield). */
  eventLoop?: EventLoopLoad;
}

/**
 * A budget of its own for each configured tenant with a target for this model (its per-model
 * target, else its target for every model), as a fraction of the last exit or multiply-adds.
 * Tenants without one, and every tenant of a model served with fixed thresholds, use the model's.
 */
function tenantBudgetsOf(tenants: readonly TenantConfig[], manifest: Manifest, budget: BudgetManager): Map<string, BudgetManager> {
  const exitFlops = manifest.exits.map((e) => e.flops);
  const out = new Map<string, BudgetManager>();
  if (budget.mode === "fixed") return out;
  for (const t of tenants) {
    const target = t.budgetTargets?.[manifest.name] ?? t.budgetTarget;
    if (target !== undefined) out.set(t.name, budget.withTarget(targetFlopsOf(target, exitFlops)));
  }
  return out;
}

/**
 * Loads the stage sessions and calibration of a model (its manifest read by the caller, see
 * loadManifest) with its settings (`config`: the global settings under its config.yaml), builds the budget state and the staged pipeline, and (with config.warmup)
 * runs every stage once, so the version is ready to take traffic when this resolves. On
 * failure nothing stays allocated.
 */
export async function loadServedModel(manifest: Manifest, deps: ServedModelDeps, config: Config = deps.config): Promise<ServedModel> {
  const log = deps.logFor("model");
  const engine = await OrtEngine.create(
    manifest,
    {
      executionProviders: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      interOpThreads: config.interOpThreads,
      workers: config.engineWorkers,
      cpus: deps.cpus,
      fused: config.fusedPath,
    },
    deps.logFor("engine"),
    deps.pool,
  );
  try {
    const { budget, scorer, scoring } = await createBudget(manifest, config, deps.logFor("budget"));
    if (config.warmup) {
      const t0 = Date.now();
      await engine.warmUp([1, config.maxBatchSize]);
      log.info({ ms: Date.now() - t0, model: manifest.name, version: manifest.version }, "warm-up done");
    }
    const stats = new InferenceStatistics();
    const pipeline = new Pipeline(
      {
        inputName: manifest.input.name,
        inputShape: manifest.input.shape,
        stages: manifest.stages,
        exitFlops: manifest.exits.map((e) => e.flops),
        classes: manifest.labels.length,
        fused: config.fusedPath ? manifest.fused : undefined,
      },
      engine,
      budget,
      {
        maxBatchSize: config.maxBatchSize,
        maxQueueDelayMs: config.maxQueueDelayMs,
        dispatchWhenIdle: config.dispatchWhenIdle,
        decideInEngine: config.exitDecisionsInEngine,
        scheduling: { loop: deps.scheduler, model: engine.key },
        maxQueueSize: config.maxQueueSize,
        maxQueueSizeByLevel: config.priorityMaxQueueSize,
        maxQueueWaitMs: config.maxQueueWaitMs,
        yieldBatchSize: config.priorityYieldBatchSize,
        yieldToHigherLevels:
          deps.eventLoop && config.priorityLevels > 1 && config.priorityYieldUtilization > 0
            ? { maxUtilization: config.priorityYieldUtilization, utilization: () => deps.eventLoop!.utilization }
            : undefined,
        clock: deps.clock,
        log: deps.logFor("pipeline"),
        scorer,
        hooks: deps.hooksFor({ model: manifest.name, version: manifest.version }),
        stats,
      },
    );
    const priorities = {
      levels: config.priorityLevels,
      defaultLevel: config.defaultPriorityLevel || config.priorityLevels,
      timeoutMs: config.priorityQueueTimeoutMs,
      timeoutAction: config.priorityTimeoutAction,
      allowTimeoutOverride: config.allowTimeoutOverride,
    };
    const tenantBudgets = tenantBudgetsOf(config.tenants, manifest, budget);
    const tenants = new Map(
      config.tenants.map((t) => [t.name, { policy: tenantBudgets.get(t.name) ?? budget, priority: t.priority, maxQueueShare: t.maxQueueShare }]),
    );
    const classifier = new Classifier(manifest, pipeline, budget, deps.clock, config.maxImagePixels, stats, priorities, tenants);
    return {
      manifest,
      provider: engine.provider,
      classifier,
      budget,
      tenantBudgets,
      scoring,
      pipeline,
      stats,
      workers: engine.workerCount,
      engine,
      drain: () => pipeline.drain(),
      dispose: async () => {
        await pipeline.dispose();
        await engine.dispose();
      },
    };
  } catch (err) {
    await engine.dispose();
    throw err;
  }
}
