import type { ExitScores } from "../../src/budget/thresholdTable.js";
import type { ExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import { rng, shuffler } from "./rng.js";

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
          policy.observe({ exit: k, flops: exitFlops[k]!, chargedFlops: committed[pos]!, path: "staged" });
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

/** Sample indices by difficulty = first-exit confidence (high = easy): easiest first, and its easy and hard halves. */
export interface DifficultySplit {
  easiest: number[];
  easy: number[];
  hard: number[];
}

/** 0, 1, ..., count - 1. */
export const indices = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

export function difficultySplit(firstExitConfidence: (i: number) => number, count: number): DifficultySplit {
  const easiest = indices(count).sort((a, b) => firstExitConfidence(b) - firstExitConfidence(a) || a - b);
  const half = Math.floor(count / 2);
  return { easiest, easy: easiest.slice(0, half), hard: easiest.slice(half) };
}

/**
 * The five difficulty orders of issue 11: i.i.d.; easiest to hardest; hardest to easiest; the
 * easy half then the hard half; the easy half then the hard half hardest first. `shuffle` is the
 * caller's seeded shuffle, called for the i.i.d. order, then the easy and hard halves, then the
 * easy half again.
 */
export function difficultyOrders(d: DifficultySplit, shuffle: (xs: number[]) => number[]): OrderSpec[] {
  const half = d.easy.length;
  return [
    { name: "i.i.d.", order: shuffle(indices(d.easiest.length)), shifts: [] },
    { name: "easiest to hardest", order: d.easiest, shifts: [] },
    { name: "hardest to easiest", order: [...d.easiest].reverse(), shifts: [] },
    { name: "easy half, then hard half", order: [...shuffle([...d.easy]), ...shuffle([...d.hard])], shifts: [half] },
    { name: "easy half, then hardest first", order: [...shuffle([...d.easy]), ...[...d.hard].reverse()], shifts: [half] },
  ];
}

/** The difficulty orders over a scored set, and alternating blocks of its easy and hard halves. */
export function adversarialOrders(scores: ExitScores, seed = 1, blockSize = 1000): OrderSpec[] {
  const shuffle = shuffler(rng(seed));
  const d = difficultySplit((i) => scores.confidence[i * scores.exits]!, scores.count);
  const blocks: number[] = [];
  const shifts: number[] = [];
  const easyLeft = shuffle([...d.easy]);
  const hardLeft = shuffle([...d.hard]);
  for (let b = 0; easyLeft.length + hardLeft.length > 0; b++) {
    const from = b % 2 === 0 ? easyLeft : hardLeft;
    const take = from.splice(0, blockSize);
    if (take.length === 0) continue;
    if (blocks.length > 0) shifts.push(blocks.length);
    blocks.push(...take);
  }
  return [...difficultyOrders(d, shuffle), { name: "easy/hard blocks", order: blocks, shifts }];
}

/** Whether a run keeps issue 11's bounds: mean within [0.95, 1.00] x target, at most 1% of windows over 1.02 x target. */
export function withinBounds(w: WindowReport): boolean {
  return w.meanOverTarget >= 0.95 && w.meanOverTarget <= 1 && w.overShare <= 0.01;
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
