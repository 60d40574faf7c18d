import type { ModelSettings } from "../config/modelSettings.js";
import type { ServedModel } from "./loadServedModel.js";
import type { ModelHost } from "./ModelHost.js";
import { MODEL_NAME, modelFolders, versionFolders } from "./repositoryFolders.js";

/** A version's state as the repository extension reports it (Triton's names). */
export type VersionState = "READY" | "UNAVAILABLE" | "LOADING" | "UNLOADING";

export interface IndexEntry {
  name: string;
  version: string;
  state: VersionState;
  reason: string;
}

export interface VersionRecord {
  version: string;
  dir: string;
  state: VersionState;
  reason: string;
  host?: ModelHost<ServedModel>;
}

export interface ModelRecord {
  name: string;
  settings: ModelSettings;
  versions: Map<string, VersionRecord>;
  /** Why the model as a whole could not be read (config.yaml, folder); shown on every version. */
  reason: string;
  /** Operations on this model run one at a time, in call order. */
  chain: Promise<unknown>;
}

/**
 * Every model of the repository folder (`root`; undefined for a single model folder) and of
 * `models`, each version with its state: loaded ones as they are, folders never loaded as
 * UNAVAILABLE "not loaded", a model without version folders with its reason.
 */
export function repositoryIndex(root: string | undefined, models: ReadonlyMap<string, ModelRecord>): IndexEntry[] {
  const known = new Set([...models.keys(), ...(root ? modelFolders(root) : [])]);
  const out: IndexEntry[] = [];
  for (const name of [...known].sort()) {
    const m = models.get(name);
    const onDisk = root && MODEL_NAME.test(name) ? versionFolders(root, name).versions : [];
    const versions = new Set([...(m?.versions.keys() ?? []), ...onDisk]);
    if (versions.size === 0)
      out.push({ name, version: "", state: "UNAVAILABLE", reason: m?.reason || (MODEL_NAME.test(name) ? "no version folder" : "not a valid model name") });
    for (const v of [...versions].sort((a, b) => Number(a) - Number(b))) {
      const r = m?.versions.get(v);
      out.push({ name, version: v, state: r?.state ?? "UNAVAILABLE", reason: r?.reason ?? m?.reason ?? "not loaded" });
    }
  }
  return out;
}
