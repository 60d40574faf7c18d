import type { Config } from "../config/config.js";
import { echo, ServingError } from "../core/errors.js";
import type { ServedModel } from "./loadServedModel.js";
import type { ModelHost, ModelSource } from "./ModelHost.js";
import { type IndexEntry, type ModelRecord, repositoryIndex, type VersionRecord } from "./repositoryIndex.js";

/** Models listed in a NOT_FOUND message at most. */
const LISTED = 16;

/**
 * The read side of the model repository: routing a (model, version) to the host that serves it
 * (empty name = the default model, empty version = the newest served), the served models and
 * the index. ModelRepository adds loading, unloading and reloading.
 */
export class ModelRoutes implements ModelSource<ServedModel> {
  protected readonly models = new Map<string, ModelRecord>();

  constructor(
    /** The global settings: a model without a config.yaml is served with them. */
    protected readonly baseConfig: Config,
    private readonly defaultModel: string | undefined,
    /** The repository folder (undefined for a single model folder): RepositoryIndex lists what it holds. */
    private readonly indexRoot: string | undefined,
  ) {}

  /** Models with at least one READY version, by name. */
  servedNames(): string[] {
    return [...this.models.values()]
      .filter((m) => this.newest(m))
      .map((m) => m.name)
      .sort();
  }

  /** The default model: configured, or the only served one, or the first by name (servedNames()[0], found without building the list: asked for every request that names no model). */
  get defaultName(): string {
    if (this.defaultModel !== undefined) return this.defaultModel;
    let first: string | undefined;
    for (const m of this.models.values()) if ((first === undefined || m.name < first) && this.newest(m)) first = m.name;
    return first ?? "";
  }

  /** The default model's newest version (single-model callers and tools). */
  get current(): ServedModel {
    return this.resolve("", "").current;
  }

  use<T>(fn: (m: ServedModel) => Promise<T>): Promise<T> {
    return this.resolve("", "").use(fn);
  }

  /** Every READY version (telemetry). */
  served(): ServedModel[] {
    return [...this.models.values()].flatMap((m) => [...m.versions.values()].flatMap((v) => (v.state === "READY" && v.host ? [v.host.current] : [])));
  }

  /**
   * The host serving (name, version); NOT_FOUND names the models that are served (at most
   * LISTED). `field` names the request field in errors.
   */
  resolve(name: string, version: string, field = "model", versionField = "model_version"): ModelHost<ServedModel> {
    const wanted = name || this.defaultName;
    const m = this.models.get(wanted);
    if (!m || !this.newest(m)) {
      const list = this.servedNames();
      const shown = list.slice(0, LISTED).map((n) => `'${n}'`);
      const more = list.length > LISTED ? `, ... (${list.length} in all)` : "";
      throw new ServingError("not_found", `${field}: ${echo(wanted)} is not served here; served models: ${shown.join(", ") || "none"}${more}`);
    }
    if (!version) return this.newest(m)!.host!;
    const v = m.versions.get(version);
    if (!v?.host || v.state !== "READY") {
      const ready = [...m.versions.values()].filter((x) => x.state === "READY").map((x) => `'${x.version}'`);
      throw new ServingError("not_found", `${versionField}: ${echo(version)} of model '${m.name}' is not served; served versions: ${ready.join(", ")}`);
    }
    return v.host;
  }

  /** The config a model is served with (its config.yaml over the global settings). */
  settingsOf(name: string): Config {
    return this.resolveRecord(name).settings.config;
  }

  /** Every model the repository knows, each version with its state (RepositoryIndex). */
  index(): IndexEntry[] {
    return repositoryIndex(this.indexRoot, this.models);
  }

  protected newest(m: ModelRecord): VersionRecord | undefined {
    let best: VersionRecord | undefined;
    for (const v of m.versions.values()) if (v.state === "READY" && v.host && (!best || Number(v.version) > Number(best.version))) best = v;
    return best;
  }

  protected resolveRecord(name: string): ModelRecord {
    this.resolve(name, "");
    return this.models.get(name || this.defaultName)!;
  }

  protected record(name: string): ModelRecord {
    let m = this.models.get(name);
    if (!m) {
      m = { name, settings: { config: this.baseConfig, versionPolicy: { latest: 1 } }, versions: new Map(), reason: "", chain: Promise.resolve() };
      this.models.set(name, m);
    }
    return m;
  }
}
