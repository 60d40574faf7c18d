import type * as grpc from "@grpc/grpc-js";
import { oneofMember } from "../core/errors.js";
import type { ClassifyRequest__Output } from "../generated/ranet/v1/ClassifyRequest.js";
import type { ClassifyResponse } from "../generated/ranet/v1/ClassifyResponse.js";
import type { GetModelMetadataRequest__Output } from "../generated/ranet/v1/GetModelMetadataRequest.js";
import type { ModelMetadata } from "../generated/ranet/v1/ModelMetadata.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { Classifier, FieldInput } from "../pipeline/Classifier.js";
import type { ClassifyResult } from "../pipeline/Pipeline.js";
import { topIndices } from "../scoring/softmax.js";
import { wirePoint, wireThresholds } from "./BudgetService.js";
import type { CallContext, CallEnvelope } from "./CallEnvelope.js";

const DEFAULT_TOP_K = 5;

/** ranet.v1.Classifier handlers. */
export class ClassifierService {
  constructor(
    private readonly models: ModelRepository,
    private readonly envelope: CallEnvelope,
    /** ClassifyStream items worked on at once per stream before the server stops reading it. */
    private readonly maxStreamInflight: number,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const classify = (req: ClassifyRequest__Output, ctx: CallContext) =>
      this.models.resolve(req.model, req.model_version).use((m) => this.classify(m.classifier, req, ctx));
    return {
      Classify: this.envelope.unary("Classify", classify, true),
      ClassifyStream: this.envelope.itemStream("ClassifyStream", classify, {
        maxInflight: this.maxStreamInflight,
        errorItem: (requestId, s) => ({ request_id: requestId, error: { code: s.code, message: s.details } }),
      }),
      GetModelMetadata: this.envelope.unary("GetModelMetadata", (req: GetModelMetadataRequest__Output) =>
        this.metadata(this.models.resolve(req.model, req.model_version).current),
      ),
    };
  }

  metadata(m: ServedModel): ModelMetadata {
    const c = m.classifier;
    const thresholds = wireThresholds(c.thresholds());
    return {
      name: c.name,
      version: c.version,
      labels: [...c.labels],
      input: {
        name: c.input.name,
        dtype: "float32",
        shape: [...c.input.shape],
        mean: [...c.input.mean],
        std: [...c.input.std],
        pixel_scale: c.input.pixelScale,
        color_space: c.input.colorSpace,
      },
      exits: c.manifest.exits.map((e, k) => ({
        exit: k + 1,
        flops: e.flops,
        val_accuracy: m.scoring.valAccuracy?.[k] ?? 0,
        test_accuracy: m.scoring.testAccuracy?.[k] ?? 0,
        threshold: thresholds[k],
        own_val_accuracy: e.accuracy?.val ?? 0,
        own_test_accuracy: e.accuracy?.test ?? 0,
      })),
      budget_table: m.budget.table.map(wirePoint),
      score_rule: m.scoring.rule,
    };
  }

  private async classify(c: Classifier, req: ClassifyRequest__Output, ctx: CallContext): Promise<ClassifyResponse> {
    const o = req.options;
    const topK = o?.top_k ? o.top_k : DEFAULT_TOP_K;
    const [result] = await c.serve(() => {
      const opts = c.options(
        {
          exit: o?.exit ?? 0,
          flopsBudget: o?.flops_budget ?? 0,
          anytime: o?.anytime ?? false,
          returnAllExits: o?.return_all_exits ?? false,
          priority: o?.priority ?? 0,
        },
        ctx.deadlineMs,
        { exit: "options.exit", flopsBudget: "options.flops_budget", priority: "options.priority" },
        ctx.tenant,
      );
      const which = oneofMember(req, ["image", "tensor"], "input");
      const input: FieldInput = {
        input: which === "image" ? { image: req.image! } : which === "tensor" ? { tensor: req.tensor! } : {},
        field: which ?? "input",
      };
      return { inputs: [input], opts };
    }, ctx.cancellation);
    return this.response(c, req.request_id, result!, topK);
  }

  private response(c: Classifier, requestId: string, r: ClassifyResult, topK: number): ClassifyResponse {
    return {
      request_id: requestId,
      class_index: r.classIndex,
      label: c.labels[r.classIndex],
      confidence: r.confidence,
      exit: r.exit + 1,
      flops: r.flops,
      top_k: topIndices(r.probabilities, topK).map((i) => ({ class_index: i, label: c.labels[i], probability: r.probabilities[i] })),
      model_name: c.name,
      model_version: c.version,
      exits: r.exits.map((p) => ({
        exit: p.exit + 1,
        class_index: p.classIndex,
        label: c.labels[p.classIndex],
        confidence: p.confidence,
        flops: p.flops,
        own_class_index: p.ownClassIndex,
        own_label: c.labels[p.ownClassIndex],
        own_confidence: p.ownConfidence,
      })),
      exit_reason: r.reason,
    };
  }
}
