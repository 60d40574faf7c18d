import { echo, invalidArgument } from "../core/errors.js";

/** `v` as a JSON object, else INVALID_ARGUMENT naming `field`. */
export function object(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidArgument(field, "a JSON object", typeOf(v));
  return v as Record<string, unknown>;
}

/** INVALID_ARGUMENT naming `field` when `o` has a key outside `keys`. */
export function only(o: Record<string, unknown>, keys: string[], field: string): void {
  const extra = Object.keys(o).find((k) => !keys.includes(k));
  if (extra !== undefined) throw invalidArgument(field, `only the keys ${keys.join(", ")}`, echo(extra));
}

/** What a JSON value is, for an error message (strings and numbers quoted, bounded). */
export function typeOf(v: unknown): string {
  if (v === undefined) return "none";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${echo(String(v))}`;
}
