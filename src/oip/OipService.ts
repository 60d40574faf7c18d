import type { CallContext } from "../core/CallContext.js";
import { echo, invalidArgument, ServingError } from "../core/errors.js";
import type { ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { ModelInferResponse } from "../generated/inference/ModelInferResponse.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import { bytesInputName, sampleInputs } from "./inputs.js";
import { encodeOutput, OUTPUTS, type OutputName, PER_EXIT_OUTPUTS, responseParameters, wantedOutputs } from "./outputs.js";
import { requestOptions } from "./parameters.js";
import { modelConfig, modelStatistics } from "./tritonModel.js";

/** Extensions ServerMetadata lists (Triton's names). */
export const EXTENSIONS = ["parameters", "classification", "model_configuration", "statistics", "model_repository", "binary_tensor_data"];

/** A model by name and version ("" = the newest served). */
export interface ModelRef {
  name: string;
  version: string;
}

/** A repository load or unload: this server has one repository and takes no load parameters. */
export interface RepositoryChange {
  repository_name: string;
  model_name: string;
  parameters: Record<string, unknown>;
}

/**
 * The Open Inference Protocol (KServe v2) on the served models, with Triton's classification,
 * model configuration, statistics and model repository extensions, in the shapes of its gRPC
 * messages and independent of the transport: the gRPC service and the REST front both call it.
 * Requests route by model name and version (empty version = the newest served).
 */
export class OipService {
  constructor(
    private readonly models: ModelRepository,
    /** Whether the listener the call came by is serving (not starting or draining). */
    readonly ready: () => boolean,
    readonly serverVersion: string,
  ) {}

  serverMetadata() {
    return { name: "ranet-serving", version: this.serverVersion, extensions: EXTENSIONS };
  }

  /** As Triton: an unknown model (or version) is not ready, not an error. */
  modelReady(ref: ModelRef): boolean {
    try {
      this.resolve(ref);
    } catch {
      return false;
    }
    return this.ready();
  }

  modelMetadata(ref: ModelRef) {
    const c = this.resolve(ref).current.classifier;
    return {
      name: c.name,
      versions: ref.version ? [c.version] : this.versionsOf(c.name),
      platform: "onnxruntime_staged",
      inputs: [
        { name: c.input.name, datatype: "FP32", shape: [-1, ...c.input.shape] },
        { name: bytesInputName(c.input.name), datatype: "BYTES", shape: [-1] },
      ],
      outputs: (Object.keys(OUTPUTS) as OutputName[]).map((name) => ({
        name,
        datatype: OUTPUTS[name],
        shape: name === "probabilities" ? [-1, c.labels.length] : PER_EXIT_OUTPUTS.includes(name) ? [-1, c.exitFlops.length] : [-1],
      })),
    };
  }

  infer(req: ModelInferRequest__Output, ctx: CallContext): Promise<ModelInferResponse> {
    return this.resolve({ name: req.model_name, version: req.model_version }).use(async ({ classifier: c }) => {
      const wanted = wantedOutputs(req.outputs, req.parameters ?? {});
      const results = await c.serve(
        () => ({ opts: requestOptions(c, req.parameters ?? {}, ctx.deadlineMs, ctx.tenant, wanted), inputs: sampleInputs(c, req) }),
        ctx.cancellation,
      );
      const encoded = wanted.map((o) => encodeOutput(o, results, c.labels, c.exitFlops.length));
      return {
        model_name: c.name,
        model_version: c.version,
        id: req.id,
        parameters: responseParameters(results),
        outputs: encoded.map((e) => e.tensor),
        raw_output_contents: encoded.map((e) => e.raw),
      };
    });
  }

  modelConfig(ref: ModelRef) {
    const m = this.resolve(ref).current;
    return { config: modelConfig(m.classifier, m.provider, m.workers, this.models.settingsOf(m.manifest.name), m.scoring) };
  }

  modelStatistics(ref: ModelRef) {
    if (ref.name) {
      const m = this.resolve(ref).current;
      const versions = ref.version ? [m] : this.models.served().filter((s) => s.manifest.name === m.manifest.name);
      return { model_stats: versions.map((s) => modelStatistics(s.classifier.name, s.classifier.version, s.stats.snapshot())) };
    }
    if (ref.version) throw new ServingError("invalid_argument", `version: expected empty without a model name, got ${echo(ref.version)}`);
    return { model_stats: this.models.served().map((s) => modelStatistics(s.classifier.name, s.classifier.version, s.stats.snapshot())) };
  }

  /** The repository's models with their states; `readyOnly` keeps the READY ones. */
  repositoryIndex(readyOnly: boolean) {
    const serving = this.ready();
    const entries = this.models
      .index()
      .map((e) => (serving || e.state !== "READY" ? e : { ...e, state: "UNAVAILABLE" as const, reason: "server is not serving (starting or draining)" }));
    return { models: readyOnly ? entries.filter((e) => e.state === "READY") : entries };
  }

  async load(req: RepositoryChange): Promise<void> {
    checkRepositoryChange(req);
    await this.models.load(req.model_name);
  }

  async unload(req: RepositoryChange): Promise<void> {
    checkRepositoryChange(req);
    await this.models.unload(req.model_name);
  }

  /** Throws NOT_FOUND unless the model (and version) is served: a transport checks it before decoding a request's body. */
  checkServed(ref: ModelRef): void {
    this.resolve(ref);
  }

  /** OIP needs a model name: an empty one is NOT_FOUND like any unknown name (no default model here). */
  private resolve(ref: ModelRef) {
    if (!ref.name) {
      const served = this.models
        .servedNames()
        .map((n) => `'${n}'`)
        .join(", ");
      throw new ServingError("not_found", `model_name: empty; served models: ${served || "none"}`);
    }
    return this.models.resolve(ref.name, ref.version, "model_name", "model_version");
  }

  private versionsOf(name: string): string[] {
    return this.models
      .served()
      .filter((s) => s.manifest.name === name)
      .map((s) => s.manifest.version)
      .sort((a, b) => Number(a) - Number(b));
  }
}

function checkRepositoryChange(req: RepositoryChange): void {
  if (req.repository_name) throw invalidArgument("repository_name", "empty (this server has one repository)", echo(req.repository_name));
  const keys = Object.keys(req.parameters ?? {});
  if (keys.length) throw invalidArgument("parameters", "none (a model loads from its repository folder only)", echo(keys.join(",")));
}
