import { z } from "zod";

/** A tenant: its FLOPs target (for every model, or per model) and optionally a priority level. */
export const tenantSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "expected 1-64 letters, digits, '.', '_' or '-'"),
    budgetTarget: z.coerce.number().positive().optional(),
    budgetTargets: z.record(z.string(), z.coerce.number().positive()).optional(),
    priority: z.coerce.number().int().min(0).max(64).optional(),
  })
  .strict();
export type TenantConfig = z.output<typeof tenantSchema>;

/** A YAML list, or the same as JSON in a flag or environment variable. */
export const jsonList = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    if (!v.trim()) return [];
    try {
      return JSON.parse(v);
    } catch {
      return v; // refused below as not a list
    }
  }, z.array(item));
