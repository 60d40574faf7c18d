import type * as grpc from "@grpc/grpc-js";
import type { BudgetManager, BudgetStatus } from "../budget/BudgetManager.js";
import type { TablePoint } from "../budget/thresholdTable.js";
import { echo, invalidArgument, oneofMember, ServingError } from "../core/errors.js";
import type { BudgetStatus as WireBudgetStatus } from "../generated/ranet/v1/BudgetStatus.js";
import type { SetBudgetRequest__Output } from "../generated/ranet/v1/SetBudgetRequest.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { CallEnvelope } from "./CallEnvelope.js";

/** Clamps thresholds into [0,1] for the wire (+inf = no exit there, -inf = everything exits). */
export const wireThresholds = (t: readonly number[]) => t.map((x) => Math.min(1, Math.max(0, x)));

export const wirePoint = (p: TablePoint) => ({ p: p.p, expected_flops: p.expectedFlops, accuracy: p.accuracy, thresholds: wireThresholds(p.thresholds) });

function wireStatus(s: BudgetStatus): WireBudgetStatus {
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
    score_rule: s.scoreRule,
    feed_forward_knob: s.knobTerms?.feedForward ?? 0,
    integral_knob: s.knobTerms?.integral ?? 0,
    inflight_charged_flops: s.knobTerms?.inflightChargedFlops ?? 0,
  };
}

/**
 * ranet.v1.BudgetAdmin handlers (served on the admin listener). Budgets are per model and per
 * configured tenant: a request addresses a model by name (empty = the default model) and a
 * tenant (empty = the model's own budget), and reads or sets that budget of the model's newest
 * served version; SetBudget sets it in every served version of that model.
 */
export class BudgetService {
  constructor(
    private readonly models: ModelRepository,
    private readonly envelope: CallEnvelope,
    /** The configured tenants (config tenants). */
    private readonly tenants: readonly string[] = [],
  ) {}

  private newest(model: string): ServedModel {
    return this.models.resolve(model, "").current;
  }

  /** The budget a request addresses in `served`: the model's, or a configured tenant's own (NOT_FOUND or FAILED_PRECONDITION otherwise). */
  private budgetOf(served: ServedModel, tenant: string): BudgetManager {
    if (!tenant) return served.budget;
    if (!this.tenants.includes(tenant)) {
      throw new ServingError("not_found", `tenant: ${echo(tenant)} is not configured; configured tenants: ${this.tenants.slice(0, 20).join(", ") || "none"}`);
    }
    const budget = served.tenantBudgets.get(tenant);
    if (!budget) {
      throw new ServingError(
        "failed_precondition",
        `tenant '${tenant}' has no budget of its own for model '${served.manifest.name}' (no budgetTarget for it, or the model runs with fixed thresholds): its requests use the model's`,
      );
    }
    return budget;
  }

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    return {
      GetBudget: unary("GetBudget", (req: { model: string; tenant: string }) => {
        const served = this.newest(req.model);
        return wireStatus(this.budgetOf(served, req.tenant).status());
      }),
      SetBudget: unary("SetBudget", (req: SetBudgetRequest__Output) => {
        const served = this.newest(req.model);
        this.budgetOf(served, req.tenant);
        const flops = served.classifier.exitFlops;
        const first = flops[0]!;
        const last = flops[flops.length - 1]!;
        const which = oneofMember(req, ["target_flops", "target_fraction"], "target");
        if (which === "target_flops") {
          const t = req.target_flops!;
          if (!(t >= first && t <= last)) {
            throw invalidArgument("target_flops", `multiply-adds from ${first} (the first exit's cost) to ${last} (the last exit's)`, String(t));
          }
          return wireStatus(this.setTarget(req.model, req.tenant, t / last));
        }
        if (which === "target_fraction") {
          const f = req.target_fraction!;
          const min = first / last;
          if (!(f >= min && f <= 1))
            throw invalidArgument("target_fraction", `a fraction of the last exit's FLOPs from ${min.toFixed(4)} (the first exit's) to 1`, String(f));
          return wireStatus(this.setTarget(req.model, req.tenant, f));
        }
        throw invalidArgument("target", "target_flops (multiply-adds) or target_fraction", "neither");
      }),
      GetBudgetTable: unary("GetBudgetTable", (req: { model: string; tenant: string }) => {
        const b = this.budgetOf(this.newest(req.model), req.tenant);
        return { points: b.table.map(wirePoint), oracle: b.oracle() };
      }),
    };
  }

  /** Sets the target of the model's (or the tenant's) budget in every served version of the model, as a fraction of each one's last exit; returns the newest's status. */
  private setTarget(model: string, tenant: string, fraction: number): BudgetStatus {
    const newest = this.newest(model);
    for (const s of this.models.served()) {
      if (s.manifest.name === newest.manifest.name && s !== newest) this.budgetOf(s, tenant).setTarget(fraction * s.classifier.exitFlops.at(-1)!);
    }
    return this.budgetOf(newest, tenant).setTarget(fraction * newest.classifier.exitFlops.at(-1)!);
  }
}
