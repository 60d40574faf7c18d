import { z } from "zod";
import { ConfigError } from "./ConfigError.js";

/** The file beside the model folders that holds the repository's own settings. */
export const REPOSITORY_SETTINGS_FILE = "repository.yaml";

/** Settings of a model repository as a whole (its `repository.yaml`), read by every way of starting the server alike. */
export interface RepositorySettings {
  /** The model a request with an empty model name goes to, unless the `defaultModel` setting names another. */
  defaultModel?: string;
}

const schema = z.object({ defaultModel: z.string().min(1).optional() }).strict();

/**
 * Reads a repository's `repository.yaml` (`raw` is its parsed YAML, undefined when there is none);
 * unknown keys and bad values throw a ConfigError naming the file and key.
 */
export function repositorySettings(raw: unknown, file: string): RepositorySettings {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${file}: expected a mapping of settings`);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0] ?? "");
    const allowed = issue.code === "unrecognized_keys" ? " (repository.yaml may set defaultModel)" : "";
    throw new ConfigError(`${file}: key '${key}': ${issue.message}${allowed}`);
  }
  return Object.freeze(parsed.data);
}
