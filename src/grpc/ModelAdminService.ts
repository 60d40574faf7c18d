import type * as grpc from "@grpc/grpc-js";
import type { ReloadModelRequest__Output } from "../generated/ranet/v1/ReloadModelRequest.js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ReloadResult } from "../model/ModelHost.js";
import type { CallEnvelope } from "./CallEnvelope.js";

const describe = (m: ServedModel) => ({
  name: m.manifest.name,
  version: m.manifest.version,
  dir: m.manifest.dir,
  execution_provider: m.provider,
  exit_flops: m.manifest.exits.map((e) => e.flops),
});

/** ranet.v1.ModelAdmin handlers (served on the admin listener): which version is served, and swapping it at run time. */
export class ModelAdminService {
  constructor(
    private readonly current: () => ServedModel,
    private readonly reload: (modelDir: string) => Promise<ReloadResult<ServedModel>>,
    private readonly envelope: CallEnvelope,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetModel: this.envelope.unary("GetModel", () => describe(this.current())),
      ReloadModel: this.envelope.unary("ReloadModel", async (req: ReloadModelRequest__Output) => {
        const r = await this.reload(req.model_dir);
        return { previous: describe(r.previous), current: describe(r.current), load_ms: r.loadMs };
      }),
    };
  }
}
