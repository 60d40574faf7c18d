import type { BudgetManager } from "./BudgetManager.js";

/**
 * On a model swap, an operator's run-time budget target carries over to the new version as the
 * same fraction of its last exit's FLOPs, and a load factor in force stays in force. Nothing
 * carries to or from fixed thresholds.
 */
export function carryTargetOver(previous: BudgetManager, next: BudgetManager, loadFactor?: number): void {
  if (previous.mode !== "fixed" && next.mode !== "fixed") {
    const prev = previous.status();
    next.setTarget((prev.targetFlops / prev.lastExitFlops) * next.status().lastExitFlops);
  }
  if (loadFactor !== undefined) next.setLoadFactor(loadFactor);
}

/** carryTargetOver for a model's own budget and each tenant budget the two versions share. */
export function carryBudgetsOver(
  previous: { budget: BudgetManager; tenantBudgets: ReadonlyMap<string, BudgetManager> },
  next: { budget: BudgetManager; tenantBudgets: ReadonlyMap<string, BudgetManager> },
): void {
  carryTargetOver(previous.budget, next.budget);
  for (const [tenant, budget] of next.tenantBudgets) {
    const before = previous.tenantBudgets.get(tenant);
    if (before) carryTargetOver(before, budget);
  }
}
