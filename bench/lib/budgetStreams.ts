import { makeClients } from "../../src/cli/clients.js";
import type { ImageSet } from "../../test/support/fashionMnist.js";
import { imageOf, normalise } from "../../test/support/fashionMnist.js";
import { rng } from "../../test/support/rng.js";

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
  /** Whether the order is gradual (nothing excused) or has abrupt shifts. */
  gradual: boolean;
}

const BLOCKS: Corruption[] = ["clean", "salt-and-pepper", "clean", "inverted", "clean", "rotated", "clean", "erased"];

/**
 * The input orders of issue 11 over an image set, by difficulty = the first exit's max softmax
 * (`firstExitConfidence`, high = easy): i.i.d.; easiest to hardest; hardest to easiest; the easy
 * half then the hard half; the easy half then the hard half hardest first; and i.i.d. images in
 * blocks alternating clean with corrupted ones (salt and pepper, inverted, rotated, erased).
 */
export function budgetStreams(
  set: ImageSet,
  spec: { pixelScale: number; mean: readonly number[]; std: readonly number[] },
  firstExitConfidence: Float32Array,
): BudgetStream[] {
  const r = rng(1);
  const shuffle = (xs: number[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const item = (idx: number, kind: Corruption = "clean"): StreamItem => {
    const x = normalise(corrupt(imageOf(set, idx), kind, set.side, r), spec);
    return { input: Buffer.from(x.buffer, x.byteOffset, x.byteLength), label: set.labels[idx]! };
  };
  const all = Array.from({ length: set.count }, (_, i) => i);
  const easiest = [...all].sort((a, b) => firstExitConfidence[b]! - firstExitConfidence[a]! || a - b);
  const half = Math.floor(set.count / 2);
  const easy = easiest.slice(0, half);
  const hard = easiest.slice(half);
  const per = Math.ceil(set.count / BLOCKS.length);
  const blocks = shuffle([...all]).map((idx, i) => item(idx, BLOCKS[Math.floor(i / per)]!));
  return [
    { name: "i.i.d.", items: shuffle([...all]).map((i) => item(i)), shifts: [], gradual: true },
    { name: "easiest to hardest", items: easiest.map((i) => item(i)), shifts: [], gradual: true },
    { name: "hardest to easiest", items: [...easiest].reverse().map((i) => item(i)), shifts: [], gradual: true },
    { name: "easy half, then hard half", items: [...shuffle([...easy]), ...shuffle([...hard])].map((i) => item(i)), shifts: [half], gradual: false },
    { name: "easy half, then hardest first", items: [...shuffle([...easy]), ...[...hard].reverse()].map((i) => item(i)), shifts: [half], gradual: false },
    {
      name: `corrupted blocks (${BLOCKS.join(", ")})`,
      items: blocks,
      shifts: BLOCKS.slice(1).map((_, b) => (b + 1) * per),
      gradual: false,
    },
  ];
}

/**
 * Sends every item over one ClassifyStream keeping `inFlight` outstanding (the server must allow
 * that many per stream: --max-stream-inflight); answers land at their send position. One stream
 * keeps the order: the server receives the items in the order sent (several streams would
 * interleave them).
 */
export async function streamAll(address: string, items: StreamItem[], shape: readonly number[], inFlight: number): Promise<RunResult> {
  const c = makeClients(address);
  const costs = new Array<number>(items.length);
  const correct = new Array<number>(items.length);
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    const call = c.classifier.ClassifyStream();
    let outstanding = 0;
    const send = () => {
      if (next >= items.length) {
        if (outstanding === 0) call.end();
        return;
      }
      const i = next++;
      outstanding++;
      call.write({ tensor: { shape: [...shape], data: items[i]!.input }, request_id: String(i) });
    };
    call.on("data", (res: { request_id: string; flops: number; class_index: number; error?: { code: number; message: string } | null }) => {
      if (res.error) return reject(new Error(`request ${res.request_id}: ${res.error.message}`));
      const i = Number(res.request_id);
      costs[i] = res.flops;
      correct[i] = res.class_index === items[i]!.label ? 1 : 0;
      outstanding--;
      send();
    });
    call.on("end", resolve);
    call.on("error", reject);
    for (let k = 0; k < inFlight; k++) send();
  });
  c.close();
  return { costs, correct };
}

export interface RunResult {
  /** Cost and correctness per request, in the order sent. */
  costs: number[];
  correct: number[];
}
