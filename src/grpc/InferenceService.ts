import type * as grpc from "@grpc/grpc-js";
import { echo, ServingError } from "../core/errors.js";
import type { ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { ModelInferResponse } from "../generated/inference/ModelInferResponse.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ModelSource } from "../model/ModelHost.js";
import type { Classifier } from "../pipeline/Classifier.js";
import type { CallContext, CallEnvelope } from "./CallEnvelope.js";
import { bytesInputName, sampleInputs } from "./oip/inputs.js";
import { encodeOutput, OUTPUTS, type OutputName, responseParameters, wantedOutputs } from "./oip/outputs.js";
import { requestOptions } from "./oip/parameters.js";
import { type BatchingSettings, modelConfig, modelStatistics } from "./oip/tritonModel.js";

/** Extensions ServerMetadata lists (Triton's names). */
const EXTENSIONS = ["parameters", "classification", "model_configuration", "statistics"];

/**
 * Open Inference Protocol (KServe v2) front door on the same pipeline, with Triton's
 * classification, model configuration and statistics extensions and its repository index.
 */
export class InferenceService {
  constructor(
    private readonly models: ModelSource<ServedModel>,
    private readonly ready: () => boolean,
    private readonly envelope: CallEnvelope,
    private readonly serverVersion: string,
    private readonly batching: BatchingSettings,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    const current = () => this.models.current;
    return {
      ServerLive: unary("ServerLive", () => ({ live: true })),
      ServerReady: unary("ServerReady", () => ({ ready: this.ready() })),
      // as Triton: an unknown model (or version) is not ready, not an error
      ModelReady: unary("ModelReady", (req: { name: string; version: string }) => ({ ready: this.serves(current().classifier, req) && this.ready() })),
      ServerMetadata: unary("ServerMetadata", () => ({ name: "ranet-serving", version: this.serverVersion, extensions: EXTENSIONS })),
      ModelMetadata: unary("ModelMetadata", (req: { name: string; version: string }) => {
        const c = current().classifier;
        c.checkModel(req.name || "?", req.version);
        return {
          name: c.name,
          versions: [c.version],
          platform: "onnxruntime_staged",
          inputs: [
            { name: c.input.name, datatype: "FP32", shape: [-1, ...c.input.shape] },
            { name: bytesInputName(c.input.name), datatype: "BYTES", shape: [-1] },
          ],
          outputs: (Object.keys(OUTPUTS) as OutputName[]).map((name) => ({
            name,
            datatype: OUTPUTS[name],
            shape: name === "probabilities" ? [-1, c.labels.length] : [-1],
          })),
        };
      }),
      ModelInfer: unary("ModelInfer", (req: ModelInferRequest__Output, ctx: CallContext) => this.models.use((m) => this.infer(m.classifier, req, ctx)), true),
      ModelConfig: unary("ModelConfig", (req: { name: string; version: string }) => {
        const m = current();
        m.classifier.checkModel(req.name || "?", req.version);
        return { config: modelConfig(m.classifier, m.provider, m.workers, this.batching, m.scoring) };
      }),
      ModelStatistics: unary("ModelStatistics", (req: { name: string; version: string }) => {
        const m = current();
        if (req.name) m.classifier.checkModel(req.name, req.version);
        else if (req.version) throw new ServingError("invalid_argument", `version: expected empty without a model name, got ${echo(req.version)}`);
        return { model_stats: [modelStatistics(m.classifier.name, m.classifier.version, m.stats.snapshot())] };
      }),
      RepositoryIndex: unary("RepositoryIndex", (req: { ready: boolean }) => {
        const c = current().classifier;
        const ready = this.ready();
        if (req.ready && !ready) return { models: [] };
        return {
          models: [
            { name: c.name, version: c.version, state: ready ? "READY" : "UNAVAILABLE", reason: ready ? "" : "server is not serving (starting or draining)" },
          ],
        };
      }),
    };
  }

  private serves(c: Classifier, req: { name: string; version: string }): boolean {
    return req.name === c.name && (!req.version || req.version === c.version);
  }

  private async infer(c: Classifier, req: ModelInferRequest__Output, ctx: CallContext): Promise<ModelInferResponse> {
    c.checkModel(req.model_name || "?", req.model_version);
    const wanted = wantedOutputs(req.outputs);
    const results = await c.serve(() => ({ opts: requestOptions(c, req.parameters, ctx.deadlineMs), inputs: sampleInputs(c, req) }), ctx.signal);
    const encoded = wanted.map((o) => encodeOutput(o, results, c.labels));
    return {
      model_name: c.name,
      model_version: c.version,
      id: req.id,
      parameters: responseParameters(results),
      outputs: encoded.map((e) => e.tensor),
      raw_output_contents: encoded.map((e) => e.raw),
    };
  }
}
