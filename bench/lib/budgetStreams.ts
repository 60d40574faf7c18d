import { readFileSync } from "node:fs";
import path from "node:path";
import { makeClients } from "../../src/cli/clients.js";
import { loadCalibration } from "../../src/format/calibration.js";
import { loadManifest, type Manifest } from "../../src/format/manifest.js";
import { softmaxRow } from "../../src/scoring/softmax.js";
import { difficultyOrders, difficultySplit, indices } from "../../test/support/budgetSimulation.js";
import type { ImageSet } from "../../test/support/fashionMnist.js";
import { imageOf, loadFashionMnist, normalise } from "../../test/support/fashionMnist.js";
import { streamInOrder } from "../../test/support/orderedStream.js";
import { rng, shuffler } from "../../test/support/rng.js";

export type Corruption = "clean" | "salt-and-pepper" | "inverted" | "rotated" | "erased";

/** A corrupted copy of 28x28-style square uint8 pixels (seeded). */
export function corrupt(px: Uint8Array, kind: Corruption, side: number, r: () => number): Uint8Array {
  const out = new Uint8Array(px.length);
  switch (kind) {
    case "clean":
      return px;
    case "salt-and-pepper":
      for (let i = 0; i < px.length; i++) {
        const u = r();
        out[i] = u < 0.1 ? 0 : u < 0.2 ? 255 : px[i]!;
      }
      return out;
    case "inverted":
      for (let i = 0; i < px.length; i++) out[i] = 255 - px[i]!;
      return out;
    case "rotated": // 90 degrees clockwise
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[x * side + (side - 1 - y)] = px[y * side + x]!;
      return out;
    case "erased": {
      // a random square of half the side set to black
      out.set(px);
      const h = Math.floor(side / 2);
      const y0 = Math.floor(r() * (side - h));
      const x0 = Math.floor(r() * (side - h));
      for (let y = y0; y < y0 + h; y++) out.fill(0, y * side + x0, y * side + x0 + h);
      return out;
    }
  }
}

export interface StreamItem {
  input: Buffer;
  label: number;
}

export interface BudgetStream {
  name: string;
  items: StreamItem[];
  /** Positions where the input changes abruptly (windows ending within 500 requests after are excused). */
  shifts: number[];
}

const BLOCKS: Corruption[] = ["clean", "salt-and-pepper", "clean", "inverted", "clean", "rotated", "clean", "erased"];

/**
 * The adversarial input orders over an image set: the difficulty orders (difficultyOrders, by
 * the first exit's max softmax `firstExitConfidence`) and i.i.d. images in blocks alternating
 * clean with corrupted ones (salt and pepper, inverted, rotated, erased).
 */
export function budgetStreams(
  set: ImageSet,
  spec: { pixelScale: number; mean: readonly number[]; std: readonly number[] },
  firstExitConfidence: Float32Array,
): BudgetStream[] {
  const r = rng(1);
  const shuffle = shuffler(r);
  const item = (idx: number, kind: Corruption = "clean"): StreamItem => {
    const x = normalise(corrupt(imageOf(set, idx), kind, set.side, r), spec);
    return { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), label: set.labels[idx]! };
  };
  const per = Math.ceil(set.count / BLOCKS.length);
  const d = difficultySplit((i) => firstExitConfidence[i]!, set.count);
  const blocks = shuffle(indices(set.count)).map((idx, i) => item(idx, BLOCKS[Math.floor(i / per)]!));
  return [
    ...difficultyOrders(d, shuffle).map((o) => ({ name: o.name, items: o.order.map((i) => item(i)), shifts: o.shifts })),
    { name: `corrupted blocks (${BLOCKS.join(", ")})`, items: blocks, shifts: BLOCKS.slice(1).map((_, b) => (b + 1) * per) },
  ];
}

/** Streams every item in order over one ClassifyStream with `inFlight` outstanding (see streamInOrder): cost and correctness per item. */
export async function streamAll(address: string, items: StreamItem[], shape: readonly number[], inFlight: number): Promise<RunResult> {
  const c = makeClients(address);
  try {
    const answers = await streamInOrder(
      c.classifier,
      items.map((it) => ({ tensor: { shape: [...shape], data: it.input } })),
      inFlight,
    );
    return { costs: answers.map((a) => a.flops), correct: answers.map((a, i) => (a.class_index === items[i]!.label ? 1 : 0)) };
  } finally {
    c.close();
  }
}

export interface RunResult {
  /** Cost and correctness per request, in the order sent. */
  costs: number[];
  correct: number[];
}

/**
 * The adversarial orders (budgetStreams) over a model's validation images themselves: the
 * training-file positions its calibration file lists, ordered by the first exit's confidence on
 * its recorded validation logits. The test set is never read.
 */
export async function validationStreams(modelDir: string): Promise<{ manifest: Manifest; count: number; streams: BudgetStream[] }> {
  const manifest = await loadManifest(modelDir);
  const cal = await loadCalibration(manifest);
  const header = JSON.parse(readFileSync(path.join(manifest.dir, manifest.calibration!), "utf8")) as { indices?: number[] };
  if (!header.indices) throw new Error("the calibration file lists no training-file positions ('indices'); re-export the model");
  const train = loadFashionMnist("train");
  const side = train.side;
  const pixels = new Uint8Array(header.indices.length * side * side);
  header.indices.forEach((idx, i) => {
    pixels.set(train.pixels.subarray(idx * side * side, (idx + 1) * side * side), i * side * side);
  });
  const set = { count: header.indices.length, side, pixels, labels: Uint8Array.from(header.indices, (idx) => train.labels[idx]!) };
  const first = Float32Array.from({ length: cal.count }, (_, i) => Math.max(...softmaxRow(cal.logits, i * cal.exits, cal.classes)));
  return { manifest, count: set.count, streams: budgetStreams(set, manifest.input, first) };
}
