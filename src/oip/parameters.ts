import { echo, invalidArgument, oneofMember } from "../core/errors.js";
import type { InferParameter__Output } from "../generated/inference/InferParameter.js";
import type { Classifier } from "../pipeline/Classifier.js";
import type { RequestOptions } from "../pipeline/Pipeline.js";
import { PER_EXIT_OUTPUTS, type WantedOutput } from "./outputs.js";

const PARAMETER_KINDS = ["bool_param", "int64_param", "string_param", "double_param", "uint64_param"] as const;

/** An OIP InferParameter as decoded (the oneof's members; more than one set is refused). */
export type InferParameter = InferParameter__Output;

/**
 * Request parameters: ours (flops_budget, exit, anytime, return_all_exits: add the per-exit
 * outputs) and Triton's (timeout in microseconds, which tightens the deadline; priority, the
 * request's priority level: see Classifier.options).
 */
export const REQUEST_PARAMETERS = ["flops_budget", "exit", "anytime", "return_all_exits", "timeout", "priority"];

/** The validated pipeline options of a ModelInfer request that asks for `wanted` outputs. */
export function requestOptions(
  c: Classifier,
  params: Record<string, InferParameter>,
  deadlineMs: number,
  tenant = "",
  wanted: readonly WantedOutput[] = [],
): RequestOptions {
  for (const key of Object.keys(params)) {
    if (!REQUEST_PARAMETERS.includes(key)) throw invalidArgument("parameters", `only ${REQUEST_PARAMETERS.join(", ")}`, echo(key));
  }
  const timeoutUs = params.timeout ? integerParam(params.timeout, "parameters.timeout") : 0;
  return c.options(
    {
      exit: params.exit ? integerParam(params.exit, "parameters.exit") : 0,
      flopsBudget: params.flops_budget ? integerParam(params.flops_budget, "parameters.flops_budget") : 0,
      anytime: params.anytime ? boolParam(params.anytime, "parameters.anytime") : false,
      returnAllExits: wanted.some((o) => PER_EXIT_OUTPUTS.includes(o.name)),
      priority: params.priority ? integerParam(params.priority, "parameters.priority") : 0,
      timeoutMs: timeoutUs / 1000,
    },
    timeoutUs > 0 ? Math.min(deadlineMs, Date.now() + timeoutUs / 1000) : deadlineMs,
    { exit: "parameters.exit", flopsBudget: "parameters.flops_budget", priority: "parameters.priority" },
    tenant,
  );
}

/** A non-negative integer parameter: int64_param, uint64_param, an integral double_param, or decimal digits in string_param. */
export function integerParam(p: InferParameter, field: string): number {
  const kind = oneofMember(p, PARAMETER_KINDS, field);
  const v = p[kind as keyof InferParameter];
  const expected = "a non-negative integer (int64_param, or decimal digits in string_param)";
  if (kind === "string_param") {
    const s = String(v);
    if (!/^[0-9]{1,15}$/.test(s)) throw invalidArgument(field, expected, `string_param ${echo(s)}`);
    return Number(s);
  }
  if (kind === "int64_param" || kind === "uint64_param" || kind === "double_param") {
    const n = Number(v);
    if (Number.isSafeInteger(n) && n >= 0) return n;
    throw invalidArgument(field, expected, `${kind} ${n}`);
  }
  throw invalidArgument(field, expected, kind ?? "no value");
}

/** A bool parameter: bool_param, or string_param "true"/"false". */
export function boolParam(p: InferParameter, field: string): boolean {
  const kind = oneofMember(p, PARAMETER_KINDS, field);
  if (kind === "bool_param") return Boolean(p.bool_param);
  if (kind === "string_param" && (p.string_param === "true" || p.string_param === "false")) return p.string_param === "true";
  throw invalidArgument(
    field,
    'a bool_param (or string_param "true" or "false")',
    kind === "string_param" ? `string_param ${echo(p.string_param)}` : (kind ?? "no value"),
  );
}
