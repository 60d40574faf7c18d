import type { ExitScores } from "../../src/budget/thresholdTable.js";
import type { ExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import { rng } from "./rng.js";

/**
 * A staged pipeline in rounds, for driving an exit policy with recorded exit scores without a
 * server: one queue per stage, at most `inflightBatches` batches of up to `batchSize` outstanding
 * per stage, deepest stage first; a batch launched in round r is decided in round r +
 * `latencyRounds`, each sample with the thresholds of its moment (as Pipeline.scatter does); a closed-loop
 * client keeps `inFlight` requests admitted. Returns what was answered, in answer order.
 */
export interface ServingSimulation {
  inFlight: number;
  batchSize?: number;
  inflightBatches?: number;
  latencyRounds?: number;
}

export interface SimulatedAnswers {
  /** Cost and correctness of each request, in submission order (position i is order[i]). */
  cost: number[];
  correct: number[];
  /** Submission positions in the order they were answered. */
  answerOrder: number[];
}

export function simulateServing(
  policy: ExitPolicy,
  scores: ExitScores,
  exitFlops: readonly number[],
  order: readonly number[],
  sim: ServingSimulation,
): SimulatedAnswers {
  const K = scores.exits;
  const batchSize = sim.batchSize ?? 32;
  const perStage = sim.inflightBatches ?? 2;
  const latency = sim.latencyRounds ?? 2;
  // queues hold submission positions
  const queues: number[][] = Array.from({ length: K }, () => []);
  const outstanding = new Array<number>(K).fill(0);
  const due = new Map<number, { stage: number; samples: number[] }[]>();
  const committed = new Float64Array(order.length);
  const out: SimulatedAnswers = { cost: new Array<number>(order.length), correct: new Array<number>(order.length), answerOrder: [] };
  let next = 0;
  let inflight = 0;
  for (let round = 0; out.answerOrder.length < order.length; round++) {
    for (const batch of (due.get(round) ?? []).sort((a, b) => b.stage - a.stage)) {
      const k = batch.stage;
      outstanding[k]!--;
      for (const pos of batch.samples) {
        const i = order[pos]!;
        const confidence = scores.confidence[i * K + k]!;
        policy.exitScored(k, confidence);
        if (k === K - 1 || confidence >= policy.thresholds()[k]!) {
          policy.observe(exitFlops[k]!, committed[pos]!);
          out.answerOrder.push(pos);
          out.cost[pos] = exitFlops[k]!;
          out.correct[pos] = scores.correct[i * K + k]!;
          inflight--;
        } else {
          committed[pos]! += policy.advanced(k);
          queues[k + 1]!.push(pos);
        }
      }
    }
    due.delete(round);
    while (inflight < sim.inFlight && next < order.length) {
      queues[0]!.push(next++);
      inflight++;
    }
    for (let k = K - 1; k >= 0; k--) {
      while (outstanding[k]! < perStage && queues[k]!.length > 0) {
        const samples = queues[k]!.splice(0, batchSize);
        outstanding[k]!++;
        const at = round + latency;
        due.set(at, [...(due.get(at) ?? []), { stage: k, samples }]);
      }
    }
  }
  return out;
}

export interface OrderSpec {
  name: string;
  order: number[];
  /** Positions where the difficulty changes abruptly (windows ending within 500 requests after are excused). */
  shifts: number[];
}

/**
 * The adversarial orders of issue 11 over a scored set, by difficulty = first-exit confidence
 * (high = easy): i.i.d.; easiest to hardest; hardest to easiest; the easy half then the hard half;
 * the easy half then the hard half hardest first; alternating blocks of the easy and hard halves.
 */
export function adversarialOrders(scores: ExitScores, seed = 1, blockSize = 1000): OrderSpec[] {
  const K = scores.exits;
  const r = rng(seed);
  const shuffle = (xs: number[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const all = Array.from({ length: scores.count }, (_, i) => i);
  const easiestFirst = [...all].sort((a, b) => scores.confidence[b * K]! - scores.confidence[a * K]! || a - b);
  const half = Math.floor(all.length / 2);
  const easy = easiestFirst.slice(0, half);
  const hard = easiestFirst.slice(half);
  const blocks: number[] = [];
  const shifts: number[] = [];
  const easyLeft = shuffle([...easy]);
  const hardLeft = shuffle([...hard]);
  for (let b = 0; easyLeft.length + hardLeft.length > 0; b++) {
    const from = b % 2 === 0 ? easyLeft : hardLeft;
    const take = from.splice(0, blockSize);
    if (take.length === 0) continue;
    if (blocks.length > 0) shifts.push(blocks.length);
    blocks.push(...take);
  }
  return [
    { name: "i.i.d.", order: shuffle([...all]), shifts: [] },
    { name: "easiest to hardest", order: easiestFirst, shifts: [] },
    { name: "hardest to easiest", order: [...easiestFirst].reverse(), shifts: [] },
    { name: "easy half, then hard half", order: [...shuffle([...easy]), ...shuffle([...hard])], shifts: [half] },
    { name: "easy half, then hardest first", order: [...shuffle([...easy]), ...hard.reverse()], shifts: [half] },
    { name: "easy/hard blocks", order: blocks, shifts },
  ];
}

export interface WindowReport {
  meanOverTarget: number;
  /** Share of full windows whose mean exceeds 1.02 x target (excused windows left out). */
  overShare: number;
  worstWindowOverTarget: number;
  windows: number;
}

/**
 * Sliding `window`-request means of `costs` (in submission order: consecutive requests as the
 * client sent them; in answer order the last window of a deep stream is skewed by the drain,
 * where the requests that went deepest are answered last) against `target`; windows ending within `excuse` requests after a shift do not count. */
export function windowReport(costs: readonly number[], target: number, shifts: readonly number[], window = 1000, excuse = 500): WindowReport {
  let sum = 0;
  let total = 0;
  let over = 0;
  let counted = 0;
  let worst = 0;
  for (let i = 0; i < costs.length; i++) {
    sum += costs[i]!;
    total += costs[i]!;
    if (i >= window) sum -= costs[i - window]!;
    if (i < window - 1) continue;
    const m = sum / window;
    if (shifts.some((s) => i >= s && i < s + excuse)) continue;
    counted++;
    worst = Math.max(worst, m / target);
    if (m > 1.02 * target) over++;
  }
  return { meanOverTarget: total / costs.length / target, overShare: counted ? over / counted : 0, worstWindowOverTarget: worst, windows: counted };
}
