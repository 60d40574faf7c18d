import { z } from "zod";

/** Zod schemas shared by the settings: comma lists, JSON lists, bools and bounded integers from flags, env or YAML. */
export const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item),
  );
/** "true"/"1" and "false"/"0" (flags, environment) as booleans; anything else as it is. */
const asBool = (v: unknown): unknown => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v);
export const bool = z.preprocess(asBool, z.boolean());
/** A bool (as `bool` reads it) or the one word `word`. */
export const boolOr = <W extends string>(word: W) => z.preprocess(asBool, z.union([z.boolean(), z.literal(word)]));
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

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
