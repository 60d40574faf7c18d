import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { float32le } from "../core/float32le.js";
import type { Manifest } from "./manifest.js";

/**
 * Every exit's logits over a labelled split: the calibration file (validation split: threshold
 * tables, temperatures, the controller) or the evaluation file (test split: only reported).
 */
export interface Calibration {
  count: number;
  exits: number;
  classes: number;
  /** logits[(i * exits + k) * classes + c] */
  logits: Float32Array;
  labels: Int32Array;
}

const Header = z.object({
  file: z.string(),
  dtype: z.literal("float32"),
  count: z.number().int().positive(),
  exits: z.number().int().positive(),
  classes: z.number().int().positive(),
  labels: z.array(z.number().int().nonnegative()),
});

/** The validation split's logits, for threshold tables (never the test set). */
export async function loadCalibration(m: Manifest): Promise<Calibration> {
  if (!m.calibration) throw new Error(`model ${m.name} has no calibration file in its manifest`);
  return loadLogitSet(m, m.calibration);
}

/** The test split's logits if the manifest lists them ('evaluation'): per-exit test accuracy under a scoring rule, reported, never used to choose. */
export async function loadEvaluation(m: Manifest): Promise<Calibration | undefined> {
  return m.evaluation ? loadLogitSet(m, m.evaluation) : undefined;
}

async function loadLogitSet(m: Manifest, header: string): Promise<Calibration> {
  const headerPath = path.join(m.dir, header);
  const h = Header.parse(JSON.parse(await readFile(headerPath, "utf8")));
  const buf = await readFile(path.join(m.dir, h.file));
  const expected = h.count * h.exits * h.classes * 4;
  if (buf.byteLength !== expected) {
    throw new Error(`${h.file}: ${buf.byteLength} bytes, expected ${expected} (count*exits*classes float32)`);
  }
  if (h.exits !== m.exits.length || h.classes !== m.labels.length || h.labels.length !== h.count) {
    throw new Error(`${headerPath}: shape ${h.count}x${h.exits}x${h.classes} does not match the manifest`);
  }
  const logits = float32le(buf, h.count * h.exits * h.classes);
  return { count: h.count, exits: h.exits, classes: h.classes, logits, labels: Int32Array.from(h.labels) };
}
