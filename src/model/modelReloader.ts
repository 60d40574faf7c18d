import type { Logger } from "pino";
import type { Metrics } from "../metrics/Metrics.js";
import type { ServedModel } from "./loadServedModel.js";
import type { ReloadResult } from "./ModelHost.js";
import type { ModelRepository } from "./ModelRepository.js";

export interface ReloaderOptions {
  repo: ModelRepository;
  metrics: Metrics;
  log: Logger;
}

/**
 * ReloadModel and SIGHUP, per model: reloads `model` (empty = the default model) from `modelDir`
 * (inside modelRoot) or from its own folder; on failure what served keeps serving, the failure
 * is counted and logged, and the error says why.
 */
export function modelReloader(o: ReloaderOptions): (model?: string, modelDir?: string) => Promise<ReloadResult<ServedModel>> {
  return async (model = "", modelDir = "") => {
    try {
      const r = await o.repo.reload(model, modelDir);
      o.metrics.modelReloads.inc({ result: "success" });
      return r;
    } catch (err) {
      o.metrics.modelReloads.inc({ result: "failure" });
      o.log.error({ model: model || o.repo.defaultName, modelDir, err }, "model reload failed; what served keeps serving");
      throw err;
    }
  };
}
