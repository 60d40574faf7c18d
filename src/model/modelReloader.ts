import type { Logger } from "pino";
import type { Metrics } from "../metrics/Metrics.js";
import type { ServedModel } from "./loadServedModel.js";
import type { ModelHost, ReloadResult } from "./ModelHost.js";
import { resolveModelDir } from "./resolveModelDir.js";

export interface ReloaderOptions {
  host: ModelHost<ServedModel>;
  /** Folder a reload may load versions from. */
  modelRoot: string;
  /** The configured model folder: what an empty request (and SIGHUP) reloads. */
  modelDir: string;
  metrics: Metrics;
  log: Logger;
}

/**
 * ReloadModel and SIGHUP: loads the version in `modelDir` (inside modelRoot; empty = the
 * configured folder) beside the serving one and swaps; on failure the current version keeps
 * serving, the failure is counted and logged, and the error says why.
 */
export function modelReloader(o: ReloaderOptions): (modelDir?: string) => Promise<ReloadResult<ServedModel>> {
  return async (modelDir = "") => {
    try {
      const dir = await resolveModelDir(modelDir, o.modelRoot, o.modelDir);
      const r = await o.host.reload(dir);
      o.metrics.modelReloads.inc({ result: "success" });
      return r;
    } catch (err) {
      o.metrics.modelReloads.inc({ result: "failure" });
      o.log.error({ modelDir: modelDir || o.modelDir, err }, "model reload failed; the current version keeps serving");
      throw err;
    }
  };
}
