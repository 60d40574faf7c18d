import type * as grpc from "@grpc/grpc-js";
import type { BudgetManager, BudgetStatus } from "../budget/BudgetManager.js";
import type { TablePoint } from "../budget/thresholdTable.js";
import { invalidArgument, oneofMember } from "../core/errors.js";
import type { BudgetStatus as WireBudgetStatus } from "../generated/ranet/v1/BudgetStatus.js";
import type { SetBudgetRequest__Output } from "../generated/ranet/v1/SetBudgetRequest.js";
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

/** ranet.v1.BudgetAdmin handlers (served on the admin listener). */
export class BudgetService {
  /** `budget` returns the served version's budget state (it changes on model reload). */
  constructor(
    private readonly budget: () => BudgetManager,
    /** Cumulative multiply-adds of the served version's exits (the range a target may take). */
    private readonly exitFlops: () => readonly number[],
    private readonly envelope: CallEnvelope,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    return {
      GetBudget: unary("GetBudget", () => wireStatus(this.budget().status())),
      SetBudget: unary("SetBudget", (req: SetBudgetRequest__Output) => {
        const flops = this.exitFlops();
        const first = flops[0]!;
        const last = flops[flops.length - 1]!;
        const which = oneofMember(req, ["target_flops", "target_fraction"], "target");
        if (which === "target_flops") {
          const t = req.target_flops!;
          if (!(t >= first && t <= last)) {
            throw invalidArgument("target_flops", `multiply-adds from ${first} (the first exit's cost) to ${last} (the last exit's)`, String(t));
          }
          return wireStatus(this.budget().setTarget(t));
        }
        if (which === "target_fraction") {
          const f = req.target_fraction!;
          const min = first / last;
          if (!(f >= min && f <= 1))
            throw invalidArgument("target_fraction", `a fraction of the last exit's FLOPs from ${min.toFixed(4)} (the first exit's) to 1`, String(f));
          return wireStatus(this.budget().setTarget(f * last));
        }
        throw invalidArgument("target", "target_flops (multiply-adds) or target_fraction", "neither");
      }),
      GetBudgetTable: unary("GetBudgetTable", () => ({ points: this.budget().table.map(wirePoint), oracle: this.budget().oracle() })),
    };
  }
}
