import type * as grpc from "@grpc/grpc-js";
import type { ServedModel } from "../model/loadServedModel.js";
import type { ReloadResult } from "../model/ModelHost.js";
import { statusFor } from "./statusFor.js";

const describe = (m: ServedModel) => ({
  name: m.manifest.name,
  version: m.manifest.version,
  dir: m.manifest.dir,
  execution_provider: m.provider,
  exit_flops: m.manifest.exits.map((e) => e.flops),
});

/** ranet.v1.ModelAdmin handlers: which version is served, and swapping it at run time. */
export class ModelAdminService {
  constructor(
    private readonly current: () => ServedModel,
    private readonly reload: (modelDir: string) => Promise<ReloadResult<ServedModel>>,
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetModel: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, describe(this.current())),
      ReloadModel: (call: grpc.ServerUnaryCall<{ model_dir: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.reload(call.request.model_dir).then(
          (r) => cb(null, { previous: describe(r.previous), current: describe(r.current), load_ms: r.loadMs }),
          (err) => cb(statusFor(err)),
        );
      },
    };
  }
}
