import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { carryBudgetsOver } from "../budget/carryTargetOver.js";
import type { Config } from "../config/config.js";
import { echo, ServingError } from "../core/errors.js";
import { loadManifest, type Manifest } from "../format/manifest.js";
import type { ServedModel } from "./loadServedModel.js";
import { ModelHost, type ReloadResult } from "./ModelHost.js";
import { ModelRoutes } from "./ModelRoutes.js";
import { checkModelName, MODEL_NAME, modelFolders, readModelSettings, selectVersions, versionFolders } from "./repositoryFolders.js";
import type { ModelRecord, VersionRecord } from "./repositoryIndex.js";
import { resolveModelDir } from "./resolveModelDir.js";

export interface RepositoryOptions {
  /** The repository folder: <root>/<model-name>/<version>/manifest.json. */
  root: string;
  /** A single model folder served as a repository of one (its manifest names it); root is then unused for scanning. */
  single?: string;
  /** Folder a ReloadModel model_dir may point into. */
  reloadRoot: string;
  /** none: every model at start; explicit: only `loadAtStart` and RepositoryModelLoad. */
  mode: "none" | "explicit";
  loadAtStart: readonly string[];
  defaultModel?: string;
  /** A model that fails to load at start stops the start. */
  strict: boolean;
  config: Config;
  /** Builds (and warms up) one version with its model's settings. */
  load(manifest: Manifest, config: Config): Promise<ServedModel>;
  /** A version starts serving (or stops: `served` false). */
  onServe?(m: ServedModel, served: boolean): void;
  /** A model gets its first served version (`up`) or loses its last (`!up`): per-model helpers start and stop. */
  onModel?(name: string, up: boolean, settings: Config, current: () => ServedModel | undefined): void;
  log: Logger;
}

/**
 * The model repository: several models, each with served versions, behind one endpoint.
 * Routing (ModelRoutes) resolves (name, version) to a version's ModelHost. Load, unload and reload act per model and run one at a
 * time per model; a failed load leaves what served before serving; an unload answers the
 * admitted requests of that model first; nothing of another model is touched.
 */
export class ModelRepository extends ModelRoutes {
  private closed = false;

  constructor(private readonly o: RepositoryOptions) {
    super(o.config, o.defaultModel, o.single ? undefined : o.root);
  }

  /** Loads what the mode says; with `strict` a failure stops the start, else the model is UNAVAILABLE with its reason. */
  async start(): Promise<void> {
    const names = this.o.single
      ? [(await loadManifest(path.resolve(this.o.single))).name]
      : this.o.mode === "none"
        ? modelFolders(this.o.root).filter((n) => MODEL_NAME.test(n))
        : [...this.o.loadAtStart];
    const results = await Promise.allSettled(names.map((n) => this.serialized(n, () => this.loadNow(n))));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${names[i]}: ${(r.reason as Error).message}`] : []));
    if (failed.length && (this.o.strict || this.servedNames().length === 0)) {
      await this.dispose();
      throw new Error(`cannot serve ${failed.length === names.length ? "any model" : "every model (strictModelStart)"}: ${failed.join("; ")}`);
    }
    for (const f of failed) this.o.log.error({ failure: f }, "a model failed to load at start; it is UNAVAILABLE while the others serve");
  }

  /**
   * RepositoryModelLoad and SIGHUP: (re)reads the model's config.yaml and version folders and
   * serves the versions its policy selects; versions no longer selected are unloaded after their
   * admitted requests are answered. A version that fails to load is UNAVAILABLE with its reason
   * and whatever served before keeps serving; the call then fails with FAILED_PRECONDITION.
   */
  load(name: string): Promise<void> {
    checkModelName(name, this.o.single ? [...this.models.keys()] : undefined);
    return this.serialized(name, () => this.loadNow(name));
  }

  /** RepositoryModelUnload: stops routing to the model, answers its admitted requests, then frees it. */
  unload(name: string): Promise<void> {
    checkModelName(name, this.o.single ? [...this.models.keys()] : undefined);
    const m = this.models.get(name);
    if (!m) throw new ServingError("not_found", `model_name: model ${echo(name)} is not loaded`);
    return this.serialized(name, async () => {
      const versions = [...m.versions.values()].filter((v) => v.host);
      await Promise.all(versions.map((v) => this.retire(m, v, "unloaded")));
    });
  }

  /**
   * ModelAdmin.ReloadModel: with `modelDir`, loads that folder (inside reloadRoot) and swaps the
   * model's newest version for it; without, reloads a repository of one from its folder, or
   * rescans the model's folder in a repository.
   */
  async reload(name: string, modelDir = ""): Promise<ReloadResult<ServedModel>> {
    const m = this.resolveRecord(name);
    const before = this.newest(m)!;
    if (!modelDir && !this.o.single) {
      const previous = before.host!.current;
      await this.load(m.name);
      return { previous, current: this.resolve(m.name, "").current, loadMs: 0 };
    }
    const dir = await resolveModelDir(modelDir, this.o.reloadRoot, this.o.single ?? before.dir);
    const r = await this.serialized(m.name, () => before.host!.reload(dir));
    // the folder may hold another version now: the record follows what it serves
    const version = r.current.manifest.version;
    if (version !== before.version && !m.versions.has(version)) {
      m.versions.delete(before.version);
      Object.assign(before, { version, dir });
      m.versions.set(version, before);
    }
    return r;
  }

  /**
   * SIGHUP: reloads a single model folder, or rescans the repository (mode none: every model
   * folder, new ones included; explicit: the loaded models). Resolves with the failures.
   */
  async rescan(): Promise<{ model: string; err: Error }[]> {
    const names = this.o.single
      ? [this.defaultName]
      : [...new Set([...this.servedNames(), ...(this.o.mode === "none" ? modelFolders(this.o.root).filter((n) => MODEL_NAME.test(n)) : [])])];
    const results = await Promise.allSettled(names.map((n) => (this.o.single ? this.reload(n) : this.load(n))));
    return results.flatMap((r, i) => (r.status === "rejected" ? [{ model: names[i]!, err: r.reason as Error }] : []));
  }

  /** Shutdown part 1: refuses loads; resolves when every admitted request of every model is answered. */
  async drain(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.models.values()].map((m) => m.chain));
    await Promise.all(this.hosts().map((h) => h.drain()));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.hosts().map((h) => h.dispose()));
  }

  private hosts(): ModelHost<ServedModel>[] {
    return [...this.models.values()].flatMap((m) => [...m.versions.values()].flatMap((v) => (v.host ? [v.host] : [])));
  }

  private async loadNow(name: string): Promise<void> {
    if (this.closed) throw new ServingError("unavailable", "server is shutting down; no model loads");
    const m = this.record(name);
    if (this.o.single) {
      const dir = path.resolve(this.o.single);
      await this.loadVersion(m, dir, (await loadManifest(dir)).version);
      return;
    }
    const modelDir = path.join(this.o.root, name);
    if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
      const reason = `no folder ${echo(name)} in the repository`;
      // a name that never served leaves no record (the index lists folders, not requests)
      if (![...m.versions.values()].some((v) => v.host)) this.models.delete(name);
      else m.reason = reason;
      throw new ServingError("not_found", `model_name: ${reason}`);
    }
    try {
      m.settings = readModelSettings(this.o.root, name, this.o.config);
      m.reason = "";
    } catch (err) {
      m.reason = (err as Error).message;
      throw new ServingError("failed_precondition", `${m.reason}; what served before keeps serving`);
    }
    const { versions, skipped } = versionFolders(this.o.root, name);
    for (const s of skipped) this.o.log.warn({ model: name, folder: s }, "version folder is not a number; skipped");
    const wanted = selectVersions(versions, m.settings.versionPolicy);
    if (wanted.length === 0) {
      m.reason = `no version folder selected by ${JSON.stringify(m.settings.versionPolicy)} (found ${versions.join(", ") || "none"})`;
      throw new ServingError("failed_precondition", `model ${echo(name)}: ${m.reason}`);
    }
    const failures: string[] = [];
    for (const v of wanted) {
      if (m.versions.get(v)?.state === "READY") continue;
      try {
        await this.loadVersion(m, path.join(modelDir, v), v);
      } catch (err) {
        failures.push(`version ${v}: ${(err as Error).message}`);
      }
    }
    const stale = [...m.versions.values()].filter((v) => v.host && !wanted.includes(v.version));
    // a policy never leaves a model with nothing: stale versions go only when a wanted one serves
    if (wanted.some((v) => m.versions.get(v)?.state === "READY")) await Promise.all(stale.map((v) => this.retire(m, v, "not selected by the version policy")));
    if (failures.length) {
      throw new ServingError("failed_precondition", `model '${name}': ${failures.join("; ")}; what served before keeps serving`);
    }
  }

  private async loadVersion(m: ModelRecord, dir: string, version: string): Promise<void> {
    const rec: VersionRecord = m.versions.get(version) ?? { version, dir, state: "LOADING", reason: "" };
    m.versions.set(version, rec);
    let served: ServedModel;
    try {
      const manifest = await loadManifest(dir);
      if (manifest.name !== m.name || manifest.version !== version) {
        throw new Error(
          `manifest names '${manifest.name}' version '${manifest.version}', but the folder is ${m.name}/${version}: re-export with --name ${m.name} --version ${version}`,
        );
      }
      served = await this.o.load(manifest, m.settings.config);
    } catch (err) {
      if (!rec.host) {
        rec.state = "UNAVAILABLE";
        rec.reason = (err as Error).message;
      }
      throw err;
    }
    const previous = this.newest(m)?.host?.current;
    if (previous) carryBudgetsOver(previous, served);
    const firstOfModel = !this.newest(m);
    rec.host = new ModelHost<ServedModel>(served, {
      load: async (d) => {
        const manifest = await loadManifest(d);
        if (manifest.name !== m.name) throw new Error(`the folder's manifest names model '${manifest.name}', not '${m.name}'`);
        return this.o.load(manifest, m.settings.config);
      },
      log: this.o.log,
      onSwap: (next, prev) => {
        carryBudgetsOver(prev, next);
        this.o.onServe?.(prev, false);
        this.o.onServe?.(next, true);
      },
    });
    rec.state = "READY";
    rec.reason = "";
    rec.dir = dir;
    this.o.onServe?.(served, true);
    if (firstOfModel) this.o.onModel?.(m.name, true, m.settings.config, () => this.newest(m)?.host?.current);
    this.o.log.info({ model: m.name, version: rec.version, dir }, "model version serving");
  }

  private async retire(m: ModelRecord, v: VersionRecord, reason: string): Promise<void> {
    const host = v.host!;
    v.state = "UNLOADING";
    v.reason = reason;
    const lastOfModel = !this.newest(m);
    if (lastOfModel) this.o.onModel?.(m.name, false, m.settings.config, () => undefined);
    await host.drain();
    this.o.onServe?.(host.current, false);
    await host.dispose();
    v.host = undefined;
    v.state = "UNAVAILABLE";
    this.o.log.info({ model: m.name, version: v.version, reason }, "model version unloaded");
  }

  private serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const m = this.record(name);
    const run = m.chain.then(fn);
    m.chain = run.catch(() => {});
    return run;
  }
}
