import type * as grpc from "@grpc/grpc-js";
import type { ModelInferRequest__Output } from "../generated/inference/ModelInferRequest.js";
import type { RepositoryModelLoadRequest__Output } from "../generated/inference/RepositoryModelLoadRequest.js";
import type { RepositoryModelUnloadRequest__Output } from "../generated/inference/RepositoryModelUnloadRequest.js";
import type { OipService } from "../oip/OipService.js";
import type { CallContext, CallEnvelope } from "./CallEnvelope.js";

/** A model named in a request message (ModelReady, ModelMetadata, ...). */
type ModelMessage = { name: string; version: string };

/**
 * The Open Inference Protocol (KServe v2) over gRPC: inference.GRPCInferenceService on the
 * OipService, every method in the call envelope. The repository's load and unload are on the
 * admin listener (repositoryHandlers).
 */
export class InferenceService {
  constructor(
    private readonly oip: OipService,
    private readonly envelope: CallEnvelope,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    const oip = this.oip;
    return {
      ServerLive: unary("ServerLive", () => ({ live: true })),
      ServerReady: unary("ServerReady", () => ({ ready: oip.ready() })),
      ModelReady: unary("ModelReady", (req: ModelMessage) => ({ ready: oip.modelReady(req) })),
      ServerMetadata: unary("ServerMetadata", () => oip.serverMetadata()),
      ModelMetadata: unary("ModelMetadata", (req: ModelMessage) => oip.modelMetadata(req)),
      ModelInfer: unary("ModelInfer", (req: ModelInferRequest__Output, ctx: CallContext) => oip.infer(req, ctx), true),
      ModelConfig: unary("ModelConfig", (req: ModelMessage) => oip.modelConfig(req)),
      ModelStatistics: unary("ModelStatistics", (req: ModelMessage) => oip.modelStatistics(req)),
      RepositoryIndex: unary("RepositoryIndex", (req: { ready: boolean }) => oip.repositoryIndex(req.ready)),
    };
  }

  /** The repository extension on the admin listener: index, load and unload by model name. */
  repositoryHandlers(): grpc.UntypedServiceImplementation {
    const unary = this.envelope.unary.bind(this.envelope);
    const oip = this.oip;
    return {
      RepositoryIndex: unary("RepositoryIndex", (req: { ready: boolean }) => oip.repositoryIndex(req.ready)),
      RepositoryModelLoad: unary("RepositoryModelLoad", async (req: RepositoryModelLoadRequest__Output) => {
        await oip.load(req);
        return {};
      }),
      RepositoryModelUnload: unary("RepositoryModelUnload", async (req: RepositoryModelUnloadRequest__Output) => {
        await oip.unload(req);
        return {};
      }),
    };
  }
}
