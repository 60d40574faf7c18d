import type * as grpc from "@grpc/grpc-js";
import type { BudgetManager, BudgetStatus } from "../budget/BudgetManager.js";
import type { TablePoint } from "../budget/thresholdTable.js";
import { invalidArgument } from "../pipeline/errors.js";
import { unaryHandler } from "./unaryHandler.js";

/** Clamps thresholds into [0,1] for the wire (+inf = no exit there, -inf = everything exits). */
export const wireThresholds = (t: readonly number[]) => t.map((x) => Math.min(1, Math.max(0, x)));

export const wirePoint = (p: TablePoint) => ({ p: p.p, expected_flops: p.expectedFlops, accuracy: p.accuracy, thresholds: wireThresholds(p.thresholds) });

function wireStatus(s: BudgetStatus): unknown {
  return {
    mode: s.mode,
    target_flops: Math.round(s.targetFlops),
    target_fraction: s.targetFlops / s.lastExitFlops,
    realized_flops: s.realizedFlops,
    observed_requests: s.observed,
    knob: s.knob,
    thresholds: wireThresholds(s.thresholds),
    start_point: s.point ? wirePoint(s.point) : null,
    load_factor: s.loadFactor,
  };
}

/** ranet.v1.BudgetAdmin handlers. */
export class BudgetService {
  /** `budget` returns the served version's budget state (it changes on model reload). */
  constructor(private readonly budget: () => BudgetManager) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = unaryHandler;
    return {
      GetBudget: unary(() => wireStatus(this.budget().status())),
      SetBudget: unary((req: { target?: string; target_flops?: number; target_fraction?: number }) => {
        const last = this.budget().status().lastExitFlops;
        if (req.target === "target_flops") return wireStatus(this.budget().setTarget(req.target_flops!));
        if (req.target === "target_fraction") {
          const f = req.target_fraction!;
          if (!(f > 0 && f <= 1)) throw invalidArgument("target_fraction", "a fraction in (0, 1]", String(f));
          return wireStatus(this.budget().setTarget(f * last));
        }
        throw invalidArgument("target", "target_flops (multiply-adds) or target_fraction", "neither");
      }),
      GetBudgetTable: unary(() => ({ points: this.budget().table.map(wirePoint), oracle: this.budget().oracle() })),
    };
  }
}
