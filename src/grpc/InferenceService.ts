import type * as grpc from "@grpc/grpc-js";
import { echo, invalidArgument, ServingError } from "../core/errors.js";
import type { ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { ModelInferResponse } from "../generated/inference/ModelInferResponse.js";
import type { RepositoryModelLoadRequest__Output } from "../generated/inference/RepositoryModelLoadRequest.js";
import type { RepositoryModelUnloadRequest__Output } from "../generated/inference/RepositoryModelUnloadRequest.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { Classifier } from "../pipeline/Classifier.js";
import type { CallContext, CallEnvelope } from "./CallEnvelope.js";
import { bytesInputName, sampleInputs } from "./oip/inputs.js";
import { encodeOutput, OUTPUTS, type OutputName, responseParameters, wantedOutputs } from "./oip/outputs.js";
import { requestOptions } from "./oip/parameters.js";
import { modelConfig, modelStatistics } from "./oip/tritonModel.js";

/** Extensions ServerMetadata lists (Triton's names). */
const EXTENSIONS = ["parameters", "classification", "model_configuration", "statistics", "model_repository"];

/**
 * Open Inference Protocol (KServe v2) front door on the same pipeline, with Triton's
 * classification, model configuration, statistics and model repository extensions. Requests
 * route by model_name and model_version (empty version = the newest served); the repository's
 * load and unload are on the admin listener (repositoryHandlers).
 */
export class InferenceService {
  constructor(
    private readonly models: ModelRepository,
    private readonly ready: () => boolean,
    private readonly envelope: CallEnvelope,
    private readonly serverVersion: string,
  ) {}

  /** OIP needs a model name: an empty one is NOT_FOUND like any unknown name (no default model here). */
  private resolve(name: string, version: string) {
    if (!name)
      throw new ServingError(
        "not_found",
        `model_name: empty; served models: ${
          this.models
            .servedNames()
            .map((n) => `'${n}'`)
            .join(", ") || "none"
        }`,
      );
    return this.models.resolve(name, version, "model_name", "model_version");
  }

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    return {
      ServerLive: unary("ServerLive", () => ({ live: true })),
      ServerReady: unary("ServerReady", () => ({ ready: this.ready() })),
      // as Triton: an unknown model (or version) is not ready, not an error
      ModelReady: unary("ModelReady", (req: { name: string; version: string }) => ({ ready: this.serves(req) && this.ready() })),
      ServerMetadata: unary("ServerMetadata", () => ({ name: "ranet-serving", version: this.serverVersion, extensions: EXTENSIONS })),
      ModelMetadata: unary("ModelMetadata", (req: { name: string; version: string }) => {
        const c = this.resolve(req.name, req.version).current.classifier;
        return {
          name: c.name,
          versions: req.version ? [c.version] : this.versionsOf(c.name),
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
      ModelInfer: unary(
        "ModelInfer",
        (req: ModelInferRequest__Output, ctx: CallContext) => this.resolve(req.model_name, req.model_version).use((m) => this.infer(m.classifier, req, ctx)),
        true,
      ),
      ModelConfig: unary("ModelConfig", (req: { name: string; version: string }) => {
        const m = this.resolve(req.name, req.version).current;
        return { config: modelConfig(m.classifier, m.provider, m.workers, this.models.settingsOf(m.manifest.name), m.scoring) };
      }),
      ModelStatistics: unary("ModelStatistics", (req: { name: string; version: string }) => {
        if (req.name) {
          const m = this.resolve(req.name, req.version).current;
          const versions = req.version ? [m] : this.models.served().filter((s) => s.manifest.name === m.manifest.name);
          return { model_stats: versions.map((s) => modelStatistics(s.classifier.name, s.classifier.version, s.stats.snapshot())) };
        }
        if (req.version) throw new ServingError("invalid_argument", `version: expected empty without a model name, got ${echo(req.version)}`);
        return { model_stats: this.models.served().map((s) => modelStatistics(s.classifier.name, s.classifier.version, s.stats.snapshot())) };
      }),
      RepositoryIndex: unary("RepositoryIndex", (req: { ready: boolean }) => this.index(req.ready)),
    };
  }

  /** The repository extension on the admin listener: index, load and unload by model name. */
  repositoryHandlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    const check = (req: { repository_name: string; parameters: Record<string, unknown> }) => {
      if (req.repository_name) throw invalidArgument("repository_name", "empty (this server has one repository)", echo(req.repository_name));
      const keys = Object.keys(req.parameters ?? {});
      if (keys.length) throw invalidArgument("parameters", "none (a model loads from its repository folder only)", echo(keys.join(",")));
    };
    return {
      RepositoryIndex: unary("RepositoryIndex", (req: { ready: boolean }) => this.index(req.ready)),
      RepositoryModelLoad: unary("RepositoryModelLoad", async (req: RepositoryModelLoadRequest__Output) => {
        check(req);
        await this.models.load(req.model_name);
        return {};
      }),
      RepositoryModelUnload: unary("RepositoryModelUnload", async (req: RepositoryModelUnloadRequest__Output) => {
        check(req);
        await this.models.unload(req.model_name);
        return {};
      }),
    };
  }

  private index(readyOnly: boolean) {
    const serving = this.ready();
    const entries = this.models
      .index()
      .map((e) => (serving || e.state !== "READY" ? e : { ...e, state: "UNAVAILABLE" as const, reason: "server is not serving (starting or draining)" }));
    return { models: readyOnly ? entries.filter((e) => e.state === "READY") : entries };
  }

  private versionsOf(name: string): string[] {
    return this.models
      .served()
      .filter((s) => s.manifest.name === name)
      .map((s) => s.manifest.version)
      .sort((a, b) => Number(a) - Number(b));
  }

  private serves(req: { name: string; version: string }): boolean {
    try {
      this.resolve(req.name, req.version);
      return true;
    } catch {
      return false;
    }
  }

  private async infer(c: Classifier, req: ModelInferRequest__Output, ctx: CallContext): Promise<ModelInferResponse> {
    const wanted = wantedOutputs(req.outputs);
    const results = await c.serve(() => ({ opts: requestOptions(c, req.parameters, ctx.deadlineMs, ctx.tenant), inputs: sampleInputs(c, req) }), ctx.signal);
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
