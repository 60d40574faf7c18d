import { z } from "zod";

/** A tenant: its FLOPs target (for every model, or per model), optionally a priority level and the share of a model's first queue its requests may hold. */
export const tenantSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/, "expected 1-128 letters, digits, '.', '_', ':', '/', '@' or '-'"),
    budgetTarget: z.coerce.number().positive().optional(),
    budgetTargets: z.record(z.string(), z.coerce.number().positive()).optional(),
    priority: z.coerce.number().int().min(0).max(64).optional(),
    maxQueueShare: z.coerce.number().gt(0).max(1).optional(),
  })
  .strict();
export type TenantConfig = z.output<typeof tenantSchema>;
