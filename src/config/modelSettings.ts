import { z } from "zod";
import { type Config, ConfigError, checkPriorities, FIELDS, type Fields, int } from "./config.js";

/** Settings a model's config.yaml may override (the global value is the default). */
export const MODEL_SETTINGS = [
  "budgetTarget",
  "controller",
  "controllerGain",
  "controllerMargin",
  "controllerWindow",
  "exitScore",
  "thresholds",
  "maxBatchSize",
  "maxQueueDelayMs",
  "dispatchWhenIdle",
  "maxQueueSize",
  "priorityLevels",
  "defaultPriorityLevel",
  "priorityMaxQueueSize",
  "priorityQueueTimeoutMs",
  "priorityTimeoutAction",
  "priorityYieldUtilization",
  "priorityYieldBatchSize",
  "allowTimeoutOverride",
  "maxQueueWaitMs",
  "loadAdaptive",
  "loadAdaptiveMinFactor",
  "fusedPath",
  "exitDecisionsInEngine",
] as const satisfies readonly (keyof Fields)[];

/** Which versions of a model are served, as Triton's version policy. */
export type VersionPolicy = { latest: number } | { all: true } | { specific: string[] };

const versionPolicySchema = z.union([
  z.object({ latest: int(1, 1000) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
  z.object({ specific: z.array(z.union([z.string().regex(/^[0-9]+$/), int(0)]).transform(String)).min(1) }).strict(),
]);

const modelFileSchema = z
  .object({
    ...Object.fromEntries(MODEL_SETTINGS.map((k) => [k, (FIELDS[k][0] as z.ZodType).optional()])),
    versionPolicy: versionPolicySchema.optional(),
  })
  .strict();

/** One model's settings: the global config with its config.yaml's overrides, and its version policy. */
export interface ModelSettings {
  config: Config;
  versionPolicy: VersionPolicy;
}

/**
 * Reads a model's config.yaml (`raw` is its parsed YAML, undefined when the model has none) over
 * the global config; unknown keys and bad values throw a ConfigError naming the file and key.
 */
export function modelSettings(raw: unknown, file: string, base: Config): ModelSettings {
  if (raw === undefined || raw === null) return { config: base, versionPolicy: { latest: 1 } };
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${file}: expected a mapping of settings`);
  const parsed = modelFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0] ?? "");
    const allowed = issue.code === "unrecognized_keys" ? ` (a model's config.yaml may set ${[...MODEL_SETTINGS, "versionPolicy"].join(", ")})` : "";
    const got = key in (raw as Record<string, unknown>) ? ` (got ${JSON.stringify((raw as Record<string, unknown>)[key])})` : "";
    throw new ConfigError(`${file}: key '${key}': ${issue.message}${got}${allowed}`);
  }
  const { versionPolicy, ...overrides } = parsed.data as Record<string, unknown> & { versionPolicy?: VersionPolicy };
  const merged = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as Record<string, unknown>;
  checkPriorities(merged, `${file}: key`);
  if (merged.loadAdaptive && !((merged.maxQueueWaitMs as number) > 0)) {
    throw new ConfigError(`${file}: key 'loadAdaptive' needs 'maxQueueWaitMs' > 0 (the queueing time it steers by)`);
  }
  return { config: Object.freeze(merged) as Config, versionPolicy: versionPolicy ?? { latest: 1 } };
}
