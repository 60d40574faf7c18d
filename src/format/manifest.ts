import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/** manifest.json of a staged multi-exit model (written by models/export.py). */
const ManifestSchema = z.object({
  format: z.literal("staged-multi-exit/v1"),
  name: z.string().min(1),
  version: z.string().min(1),
  input: z.object({
    name: z.string().min(1),
    dtype: z.literal("float32"),
    shape: z.array(z.number().int().positive()).length(3),
    pixelScale: z.number().positive(),
    mean: z.array(z.number()),
    std: z.array(z.number().positive()),
    colorSpace: z.enum(["gray", "rgb"]),
  }),
  labels: z.array(z.string()).min(2),
  stages: z
    .array(
      z.object({
        file: z.string().min(1),
        inputs: z.array(z.string().min(1)).min(1),
        outputs: z.array(z.string().min(1)).min(1),
      }),
    )
    .min(1),
  exits: z
    .array(
      z.object({
        stage: z.number().int().nonnegative(),
        flops: z.number().int().positive(),
        accuracy: z.object({ val: z.number(), test: z.number() }).partial().optional(),
      }),
    )
    .min(1),
  calibration: z.string().optional(),
  /** Test-split logits (same format as the calibration file), for reported accuracies only. */
  evaluation: z.string().optional(),
  /** The whole network as one graph: the input in, every exit's logits out (logits_1 .. logits_K). */
  fused: z
    .object({
      file: z.string().min(1),
      inputs: z.array(z.string().min(1)).min(1),
      outputs: z.array(z.string().min(1)).min(1),
    })
    .optional(),
});

export type Manifest = z.infer<typeof ManifestSchema> & { dir: string };

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Reads and validates `<dir>/manifest.json`, including the stage tensor-name contract. */
export async function loadManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, "manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new ManifestError(`cannot read model manifest ${file}: ${(err as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ManifestError(`${file}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const m = { ...parsed.data, dir };
  checkContract(m, file);
  return m;
}

function checkContract(m: Manifest, file: string): void {
  const [c] = m.input.shape;
  if (m.input.mean.length !== c || m.input.std.length !== c) {
    throw new ManifestError(`${file}: input.mean and input.std need ${c} entries (one per channel)`);
  }
  if (m.input.colorSpace === "gray" ? c !== 1 : c !== 3) {
    throw new ManifestError(`${file}: colorSpace ${m.input.colorSpace} does not fit ${c} channels`);
  }
  if (m.exits.length !== m.stages.length) {
    throw new ManifestError(`${file}: ${m.exits.length} exits for ${m.stages.length} stages; expected one exit per stage`);
  }
  const available = new Set([m.input.name]);
  m.stages.forEach((s, k) => {
    for (const name of s.inputs) {
      if (!available.has(name)) {
        throw new ManifestError(`${file}: stage ${k + 1} input '${name}' is produced by no earlier stage`);
      }
    }
    if (!s.outputs.includes("logits")) {
      throw new ManifestError(`${file}: stage ${k + 1} has no 'logits' output`);
    }
    s.outputs.forEach((o) => {
      available.add(o);
    });
  });
  if (m.fused) {
    const want = m.stages.map((_, k) => `logits_${k + 1}`);
    if (m.fused.inputs.length !== 1 || m.fused.inputs[0] !== m.input.name || m.fused.outputs.join() !== want.join()) {
      throw new ManifestError(`${file}: fused graph must map [${m.input.name}] to [${want}], manifest says [${m.fused.inputs}] -> [${m.fused.outputs}]`);
    }
  }
  m.exits.forEach((e, k) => {
    if (e.stage !== k) throw new ManifestError(`${file}: exits[${k}].stage is ${e.stage}, expected ${k}`);
    if (k > 0 && e.flops <= m.exits[k - 1]!.flops) {
      throw new ManifestError(`${file}: exits[${k}].flops must exceed exits[${k - 1}].flops (cumulative)`);
    }
  });
}

/** For each stage, the carried names whose last reader is that stage (free them after it). */
export function lastReaders(m: { stages: readonly { inputs: readonly string[] }[] }): Map<string, number> {
  const last = new Map<string, number>();
  m.stages.forEach((s, k) => {
    s.inputs.forEach((n) => {
      last.set(n, k);
    });
  });
  return last;
}
