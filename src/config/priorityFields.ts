import { z } from "zod";
import { ConfigError } from "./ConfigError.js";
import { bool, int, list } from "./schemaHelpers.js";

/** The priority settings (Triton's priority levels and per-level queue policy), part of FIELDS. */
export const PRIORITY_FIELDS = {
  priorityLevels: [
    int(0, 64),
    0,
    "priority levels, as Triton's: a request's priority runs from 1 (highest) to this, 0 = defaultPriorityLevel; higher levels are admitted and run first at every stage. 0 = priorities off (every request in one queue; any priority accepted and ignored)",
  ],
  defaultPriorityLevel: [int(0, 64), 0, "the level of requests that give priority 0 (at most priorityLevels; 0 = the lowest level, priorityLevels)"],
  priorityMaxQueueSize: [
    list(int(1)),
    [],
    "requests of each level that may wait for the first stage, comma-separated from level 1 (one per level; empty = maxQueueSize for every level, which always bounds the whole queue)",
  ],
  priorityQueueTimeoutMs: [
    list(int(0)),
    [],
    "per level from level 1, comma-separated: how long a request may wait for the first stage, in ms, before priorityTimeoutAction applies (0 = no limit; empty = no limit at any level)",
  ],
  priorityTimeoutAction: [
    list(z.enum(["reject", "delay"])),
    [],
    "per level from level 1: reject (answer UNAVAILABLE) or delay (keep it, scheduled after every request that has not timed out) a request past its level's queue timeout (empty = reject at every level)",
  ],
  priorityYieldUtilization: [
    z.coerce.number().min(0).max(1),
    0,
    "with priority levels: while the main thread's event loop is busier than this share (over its last 100 ms) and requests of a higher level arrived within the last second, requests of lower levels are refused (RESOURCE_EXHAUSTED), so the one thread that reads and answers every request keeps headroom for the higher levels; costs the lower levels' throughput under load (docs/operations.md measures it). 0 = off",
  ],
  priorityYieldBatchSize: [
    int(0, 4096),
    4,
    "with priority levels, preemption between batches: while a higher level is active in the model (one of its requests queued, or one joined a stage's queue within the last second), requests of lower levels fill a stage batch only up to this many, and a higher level's batch passes the lower levels' batches an engine worker holds, taking a slot beyond engineWorkerSlots at once; so at each stage a higher level's request waits behind at most engineWorkerSlots batches this short, never for a slot. Costs the lower levels' throughput while a higher level is active (docs/api.md measures it). 0 = off: lower levels fill batches up to maxBatchSize",
  ],
  allowTimeoutOverride: [
    bool,
    false,
    "a request's own timeout (the OIP timeout parameter, or its deadline) replaces its level's queue timeout when shorter, as Triton's allow_timeout_override",
  ],
} as const;

/** The cross-key rules of the priority settings; `where` starts each message ("config key", or a model's file). */
export function checkPriorities(cfg: Record<string, unknown>, where: string): void {
  const levels = cfg.priorityLevels as number;
  if ((cfg.defaultPriorityLevel as number) > levels) {
    throw new ConfigError(`${where} 'defaultPriorityLevel': expected 0 to priorityLevels (${levels}), got ${cfg.defaultPriorityLevel}`);
  }
  const sizes = cfg.priorityMaxQueueSize as number[];
  if (sizes.length > 0 && sizes.length !== levels) {
    throw new ConfigError(`${where} 'priorityMaxQueueSize': expected one size per level (${levels}), got ${sizes.length}`);
  }
  for (const key of ["priorityQueueTimeoutMs", "priorityTimeoutAction"]) {
    const n = (cfg[key] as unknown[]).length;
    if (n > 0 && n !== levels) throw new ConfigError(`${where} '${key}': expected one value per level (${levels}), got ${n}`);
  }
}
