/**
 * Generates docs/reference.md from the code: every setting (config.ts: key, flag, environment
 * variable, type and range, default, meaning) and every metric (Metrics.ts: name, type, labels,
 * meaning). `npm run docs:reference` writes it; test/unit/referenceDocs.test.ts fails when the
 * committed file is not current.
 */
import { writeFileSync } from "node:fs";
import type client from "prom-client";
import type { z } from "zod";
import { FIELDS } from "../config/config.js";
import { MODEL_SETTINGS } from "../config/modelSettings.js";
import { Metrics } from "../metrics/Metrics.js";

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `RANET_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A zod schema as "type (range)" text. */
function typeOf(schema: z.ZodType, def: unknown): string {
  let s = schema as unknown as {
    constructor: { name: string };
    unwrap?: () => unknown;
    options?: string[];
    minValue?: number;
    maxValue?: number;
    _zod?: { def?: { out?: unknown } };
  };
  if (s.constructor.name === "ZodOptional" && s.unwrap) s = s.unwrap() as typeof s;
  if (s.constructor.name === "ZodPreprocess") {
    const inner = s._zod?.def?.out as typeof s | undefined;
    if (inner?.constructor.name === "ZodBoolean") return "boolean";
    if (inner?.constructor.name === "ZodArray") return "list (comma-separated)";
    if (inner) s = inner;
  }
  if (s.constructor.name === "ZodEnum") return `one of ${s.options!.join(", ")}`;
  if (s.constructor.name === "ZodUnion") {
    // booleans and words, as exitDecisionsInEngine's true, false or auto
    const options = (s as unknown as { options: { constructor: { name: string }; values?: Set<unknown> }[] }).options;
    const words = options.flatMap((o) => (o.constructor.name === "ZodBoolean" ? ["true", "false"] : [...(o.values ?? [])].map(String)));
    return `one of ${words.join(", ")}`;
  }
  if (s.constructor.name === "ZodNumber") {
    const lo = s.minValue;
    const hi = s.maxValue;
    const range = [
      lo !== undefined && Number.isFinite(lo) ? `>= ${lo}` : "",
      hi !== undefined && Number.isFinite(hi) && hi < Number.MAX_SAFE_INTEGER ? `<= ${hi}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    return `number${range ? ` (${range})` : ""}`;
  }
  if (s.constructor.name === "ZodString") return "string";
  return Array.isArray(def) ? "list (comma-separated)" : typeof def;
}

export async function referenceDocs(): Promise<string> {
  const lines = [
    "# Reference: settings and metrics",
    "",
    "Generated from the code by `npm run docs:reference` (`src/cli/referenceDocs.ts`); a test fails when this file is",
    "not current. Settings come from (later wins) the default, a YAML file (`--config` or `RANET_CONFIG`, camelCase",
    "keys), the environment and the command line; a bad value stops the start with exit code 2 naming the key and",
    "its source. Keys marked *per model* may also be set in a model's `config.yaml` (docs/operations.md, \"Model",
    'repository"), over the global value.',
    "",
    "## Settings",
    "",
    "| key | flag | environment | type | default | meaning |",
    "|---|---|---|---|---|---|",
  ];
  for (const [key, [schema, def, help]] of Object.entries(FIELDS)) {
    const perModel = (MODEL_SETTINGS as readonly string[]).includes(key) ? " *per model*" : "";
    const shown = def === undefined ? "-" : Array.isArray(def) ? def.join(",") || "(empty)" : String(def);
    lines.push(`| \`${key}\`${perModel} | \`--${kebab(key)}\` | \`${envName(key)}\` | ${typeOf(schema as z.ZodType, def)} | ${cell(shown)} | ${cell(help)} |`);
  }
  lines.push("| - | `--config` | `RANET_CONFIG` | file | - | YAML file with any of the keys above |", "");
  const m = new Metrics();
  m.addModel({ model: "m", version: "1" }, [1, 2]);
  lines.push(
    "## Metrics",
    "",
    "Served on `metricsPort` at `/metrics`. `model` and `version` take the served models' names and versions (bounded by",
    "the repository, never client input); `exit` and `stage` are 1-based. Units are in the names (seconds, FLOPs as",
    "multiply-adds). The default process and Node.js metrics of prom-client are served beside these.",
    "",
    "| name | type | labels | meaning |",
    "|---|---|---|---|",
  );
  const own = (await m.registry.getMetricsAsJSON()).filter((x) => x.name.startsWith("ranet_")).sort((a, b) => a.name.localeCompare(b.name));
  for (const metric of own) {
    const single = m.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined;
    const labels = metric.name === "ranet_request_flops" ? ["model", "version"] : (single?.labelNames ?? []);
    lines.push(`| \`${metric.name}\` | ${metric.type} | ${labels.map((l) => `\`${l}\``).join(", ") || "-"} | ${cell((metric as client.MetricObject).help)} |`);
  }
  lines.push("");
  return lines.join("\n");
}

if (process.argv[1]?.endsWith("referenceDocs.ts") || process.argv[1]?.endsWith("referenceDocs.js")) {
  const out = process.argv[2] ?? "docs/reference.md";
  referenceDocs().then(
    (text) => {
      writeFileSync(out, text);
      console.log(`wrote ${out}`);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
