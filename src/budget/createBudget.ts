import type { Logger } from "pino";
import { loadCalibration, loadEvaluation } from "../format/calibration.js";
import type { Manifest } from "../format/manifest.js";
import { type ExitScorer, fitTemperatures, makeScorer, SCORE_RULES, type ScoreRule } from "../scoring/exitScorers.js";
import { BudgetManager } from "./BudgetManager.js";
import { targetFlopsOf } from "./budgetTarget.js";
import { accuracyAtFlops, type ExitScores, exitAccuracies, offlineTable, scoresFromLogits } from "./thresholdTable.js";

/** Budgets (fractions of the last exit) at which rules are compared on the validation split. */
const COMPARE_AT = [0.3, 0.5, 0.7];

/** Per-exit top-1 accuracy of what the service answers at each exit under its scoring rule. */
export interface ExitScoring {
  rule: ScoreRule;
  /** On the validation split (calibration file), if the model has one. */
  valAccuracy?: number[];
  /** On the test split (evaluation file), if the model has one; reported, never used to choose. */
  testAccuracy?: number[];
}

export interface ScoreRuleReport {
  rule: ScoreRule;
  /** Validation accuracy at each COMPARE_AT budget. */
  valAccuracy: number[];
}

/**
 * Builds the exit scorer and the budget state from config and the model's calibration file
 * (validation split). With exitScore 'auto' every rule's offline table is computed and the one
 * with the best mean validation accuracy at 30/50/70% of the last exit's FLOPs is kept.
 */
/** The settings a budget is built from (config keys of the same names). */
export interface BudgetSettings {
  budgetTarget: number;
  thresholds?: readonly number[];
  exitScore: ScoreRule | "auto";
  controller: boolean;
  controllerGain: number;
  controllerMargin: number;
  controllerWindow: number;
}

export async function createBudget(
  manifest: Manifest,
  config: BudgetSettings,
  log: Logger,
): Promise<{ budget: BudgetManager; scorer: ExitScorer; rules: ScoreRuleReport[]; scoring: ExitScoring }> {
  const exitFlops = manifest.exits.map((e) => e.flops);
  const K = exitFlops.length;
  const targetFlops = targetFlopsOf(config.budgetTarget, exitFlops);
  if (config.thresholds) {
    if (config.thresholds.length !== K && config.thresholds.length !== K - 1) {
      throw new Error(`config key 'thresholds': expected ${K - 1} or ${K} values (one per exit), got ${config.thresholds.length}`);
    }
    const fixed = [...config.thresholds.slice(0, K - 1), Number.NEGATIVE_INFINITY];
    log.info({ thresholds: fixed }, "fixed thresholds from config");
    // the calibration file is read once: for temperatures if the rule uses them, and for the reported accuracies
    const cal = manifest.calibration ? await loadCalibration(manifest) : undefined;
    const rule = config.exitScore === "auto" ? "max-softmax" : config.exitScore;
    if (rule.includes("temperature") && !cal)
      throw new Error(`exit score rule '${rule}' needs the model's calibration file (validation split) to fit temperatures`);
    const scorer = makeScorer(rule, rule.includes("temperature") ? await fitTemperatures(cal!) : []);
    const scoring = await exitScoring(manifest, scorer, cal && scoresFromLogits(cal, scorer));
    return {
      budget: new BudgetManager({ exitFlops, mode: "fixed", targetFlops, table: [], fixedThresholds: fixed, scoreRule: scorer.name, log }),
      scorer,
      rules: [],
      scoring,
    };
  }
  const cal = await loadCalibration(manifest);
  const temps = await fitTemperatures(cal);
  const last = exitFlops[K - 1]!;
  const candidates = [];
  for (const rule of config.exitScore === "auto" ? [...SCORE_RULES] : [config.exitScore]) {
    const scorer = makeScorer(rule, temps);
    const scores = scoresFromLogits(cal, scorer);
    const table = offlineTable(scores, exitFlops);
    candidates.push({ scorer, scores, table, valAccuracy: COMPARE_AT.map((f) => accuracyAtFlops(table, f * last)) });
    await yieldToEventLoop();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const best = candidates.reduce((a, b) => (mean(b.valAccuracy) > mean(a.valAccuracy) ? b : a));
  const rules = candidates.map((c) => ({ rule: c.scorer.name, valAccuracy: c.valAccuracy }));
  log.info({ chosen: best.scorer.name, temperatures: temps.map((t) => +t.toFixed(3)), rules }, "exit scoring rule chosen on the validation split");
  const budget = new BudgetManager({
    exitFlops,
    mode: config.controller ? "controller" : "offline",
    targetFlops,
    table: best.table,
    scores: best.scores,
    scoreRule: best.scorer.name,
    gain: config.controllerGain,
    margin: config.controllerMargin,
    window: config.controllerWindow,
    log,
  });
  return { budget, scorer: best.scorer, rules, scoring: await exitScoring(manifest, best.scorer, best.scores) };
}

async function exitScoring(manifest: Manifest, scorer: ExitScorer, valScores: ExitScores | undefined): Promise<ExitScoring> {
  const evaluation = await loadEvaluation(manifest);
  return {
    rule: scorer.name,
    valAccuracy: valScores && exitAccuracies(valScores),
    testAccuracy: evaluation && exitAccuracies(scoresFromLogits(evaluation, scorer)),
  };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
