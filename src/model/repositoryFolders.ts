import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { Config } from "../config/config.js";
import { type ModelSettings, modelSettings, type VersionPolicy } from "../config/modelSettings.js";
import { REPOSITORY_SETTINGS_FILE, type RepositorySettings, repositorySettings } from "../config/repositorySettings.js";
import { echo, ServingError } from "../core/errors.js";

/** Model names as folders: letters, digits, '.', '_' and '-', not starting with '.'. */
export const MODEL_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const VERSION = /^[0-9]{1,18}$/;

/** Every folder of the repository (valid model names or not), by name. */
export function modelFolders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort();
}

/** A model folder's version folders (numeric names, ascending) and the folders skipped (not a number). */
export function versionFolders(root: string, name: string): { versions: string[]; skipped: string[] } {
  const dir = path.join(root, name);
  if (!existsSync(dir)) return { versions: [], skipped: [] };
  const folders = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() || d.isSymbolicLink());
  return {
    versions: folders
      .filter((d) => VERSION.test(d.name))
      .map((d) => d.name)
      .sort((a, b) => Number(a) - Number(b)),
    skipped: folders.filter((d) => !VERSION.test(d.name)).map((d) => d.name),
  };
}

/** A YAML file's parsed content, or undefined when there is no such file; a parse error names the file. */
function readYamlFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** A model's settings: its config.yaml (if any) over the global config. Throws naming the file and key. */
export function readModelSettings(root: string, name: string, base: Config): ModelSettings {
  const file = path.join(root, name, "config.yaml");
  return modelSettings(readYamlFile(file), file, base);
}

/** The repository's own settings: its repository.yaml, if any. Throws naming the file and key. */
export function readRepositorySettings(root: string): RepositorySettings {
  const file = path.join(root, REPOSITORY_SETTINGS_FILE);
  return repositorySettings(readYamlFile(file), file);
}

/** The versions a policy serves, oldest first. */
export function selectVersions(available: readonly string[], policy: VersionPolicy): string[] {
  const sorted = [...available].sort((a, b) => Number(a) - Number(b));
  if ("all" in policy) return sorted;
  if ("latest" in policy) return sorted.slice(Math.max(0, sorted.length - policy.latest));
  return sorted.filter((v) => policy.specific.includes(v));
}

/**
 * A model name a client sent (RepositoryModelLoad/Unload): a repository folder name, never a
 * path; with `served` (a single model folder), one of those names.
 */
export function checkModelName(name: string, served?: readonly string[]): void {
  if (served) {
    if (!served.includes(name)) throw new ServingError("not_found", `model_name: ${echo(name)} is not served; a single model folder is served (modelDir)`);
    return;
  }
  if (!MODEL_NAME.test(name) || name.includes("..")) {
    throw new ServingError(
      "invalid_argument",
      `model_name: expected a model name of the repository (letters, digits, '.', '_', '-'; no '/', '..' or control characters), got ${echo(name)}`,
    );
  }
}
