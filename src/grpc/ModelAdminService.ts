import type * as grpc from "@grpc/grpc-js";
import type { ReloadModelRequest__Output } from "../generated/ranet/v1/ReloadModelRequest.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ReloadResult } from "../model/ModelHost.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { CallEnvelope } from "./CallEnvelope.js";

const describe = (m: ServedModel) => ({
  name: m.manifest.name,
  version: m.manifest.version,
  dir: m.manifest.dir,
  execution_provider: m.provider,
  exit_flops: m.manifest.exits.map((e) => e.flops),
});

/** ranet.v1.ModelAdmin handlers (served on the admin listener): which version of a model is served, and reloading it at run time. */
export class ModelAdminService {
  constructor(
    private readonly models: ModelRepository,
    private readonly reload: (model: string, modelDir: string) => Promise<ReloadResult<ServedModel>>,
    private readonly envelope: CallEnvelope,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetModel: this.envelope.unary("GetModel", (req: { model: string }) => describe(this.models.resolve(req.model, "").current)),
      ReloadModel: this.envelope.unary("ReloadModel", async (req: ReloadModelRequest__Output) => {
        const r = await this.reload(req.model, req.model_dir);
        return { previous: describe(r.previous), current: describe(r.current), load_ms: r.loadMs };
      }),
    };
  }
}
