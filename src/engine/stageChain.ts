import { DECIDED_EXITS, exitDecision } from "../scoring/exitDecision.js";
import { type ExitScorer, ownPrediction, type ScoreRule } from "../scoring/exitScorers.js";
import { argmax } from "../scoring/softmax.js";
import { gatherRows } from "./gatherRows.js";
import type { HostTensor } from "./StageRunner.js";
import { ThresholdBoard } from "./ThresholdBoard.js";

/** What the engine needs to run a model's stages back to back and decide its exits: the same for every batch (a worker gets it once). */
export interface ChainModel {
  scoreRule: ScoreRule;
  temperatures: readonly number[];
  classes: number;
  /** Per stage: its input names, and its outputs a later stage reads (its other output is `logits`). */
  stages: readonly { inputs: readonly string[]; keep: readonly string[] }[];
  /** The model's ThresholdBoard (its buffer and engine worker count): the exit policies' thresholds, shared. */
  board: { buffer: SharedArrayBuffer; workers: number };
}

/** One batch's exit rules: per sample i, `samples[3i]` its deepest exit (0-based), `samples[3i + 1]` 1 when that exit is fixed, `samples[3i + 2]` its policy's ThresholdBoard slot. */
export interface ChainRules {
  /** The stage the batch starts at (0-based): its feeds hold every tensor its samples carry. */
  stage: number;
  samples: Int32Array;
  /** The scored probabilities of the exit before `stage` (`classes` per sample), for a rule that averages exits (ensemble). */
  lastProbs?: Float32Array;
}

/** A chain's answers: per sample a row of `answerStride(exits, classes)` numbers (see ChainAnswers.answers); per stage run, its batch size and milliseconds. */
export interface ChainAnswers {
  /**
   * Per sample i, from `i * stride`: the exit it answered at (0-based), its reason (an index of
   * DECIDED_EXITS), then for each exit k up to it [class, confidence, own class, own confidence]
   * (4 numbers from 2 + 4k; the scored prediction and the exit's own), then the answering exit's
   * scored probabilities (`classes` numbers from 2 + 4 x exits).
   */
  answers: HostTensor;
  /** `data[2k]` the batch size stage k ran at (0 when it did not run), `data[2k + 1]` its milliseconds. */
  stages: HostTensor;
}

const answerStride = (exits: number, classes: number): number => 2 + 4 * exits + classes;

/** The board a chain model names, as a worker opens it. */
export const boardOf = (model: ChainModel): ThresholdBoard => new ThresholdBoard(model.board.buffer, model.stages.length, model.board.workers);

/** A tensor a later stage reads, with each sample's row in it (-1: none). */
interface Carried {
  tensor: HostTensor;
  rowOf: Int32Array;
}

/**
 * Runs a batch of stage `rules.stage` on engine worker `worker` through as many stages as its
 * samples need, back to back where the tensors are: after each stage every remaining sample is
 * scored and decided (the pipeline's exitDecision, its policy's threshold read from the board at
 * that moment; each decision to go on charged there until the request answers), and those that go
 * on run the next stage on their rows of what earlier stages kept, until every sample has
 * answered. Nothing of the batch is kept when it returns; if a stage throws, the charges of the
 * requests still running leave the board and the error goes to the caller.
 */
export async function runChain(
  model: ChainModel,
  scorer: ExitScorer,
  board: ThresholdBoard,
  worker: number,
  feeds: Record<string, HostTensor>,
  rules: ChainRules,
  runStage: (stage: number, feeds: Record<string, HostTensor>) => Promise<Record<string, HostTensor>>,
  nowMs: () => number,
): Promise<ChainAnswers> {
  const K = model.stages.length;
  const C = model.classes;
  const n = rules.samples.length / 3;
  const stride = answerStride(K, C);
  const answers = new Float32Array(n * stride);
  const stages = new Float32Array(2 * K);
  /** What each sample's decisions to go on charged on the board so far; released when it answers. */
  const charged = new Float64Array(n);
  const lastProbs: (Float32Array | undefined)[] = Array.from({ length: n }, (_, i) => rules.lastProbs?.slice(i * C, (i + 1) * C));
  const carried = new Map<string, Carried>();
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  for (const [name, tensor] of Object.entries(feeds)) carried.set(name, { tensor, rowOf: identity });
  try {
    let alive = identity;
    for (let k = rules.stage; alive.length > 0; k++) {
      const stage = model.stages[k];
      if (!stage) throw new Error(`requests went on past the last stage (${K})`);
      const stageFeeds: Record<string, HostTensor> = {};
      for (const name of stage.inputs) {
        const c = carried.get(name);
        if (!c) throw new Error(`stage ${k + 1} reads '${name}', which no earlier stage kept`);
        stageFeeds[name] = rowsOf(c, alive);
      }
      const t0 = nowMs();
      const out = await runStage(k, stageFeeds);
      stages[2 * k] = alive.length;
      stages[2 * k + 1] = nowMs() - t0;
      const logits = out.logits;
      if (!logits) throw new Error(`stage ${k + 1} returned no logits`);
      const rows = new Int32Array(n).fill(-1);
      alive.forEach((i, j) => {
        rows[i] = j;
      });
      for (const name of stage.keep) {
        const tensor = out[name];
        if (!tensor) throw new Error(`stage ${k + 1} returned no '${name}'`);
        carried.set(name, { tensor, rowOf: rows });
      }
      const next: number[] = [];
      for (let j = 0; j < alive.length; j++) {
        const i = alive[j]!;
        const slot = rules.samples[3 * i + 2]!;
        const probs = scorer.score(k, logits.data, j, C, lastProbs[i]);
        const cls = argmax(probs);
        const own = ownPrediction(scorer, probs, cls, logits.data, j, C);
        const at = i * stride + 2 + 4 * k;
        answers[at] = cls;
        answers[at + 1] = probs[cls]!;
        answers[at + 2] = own.index;
        answers[at + 3] = own.confidence;
        const limits = { maxExit: rules.samples[3 * i]!, fixed: rules.samples[3 * i + 1] === 1 };
        const decision = exitDecision(k, K, probs[cls]!, () => board.threshold(slot, k), limits);
        if (decision === "forward") {
          charged[i]! += board.charge(slot, worker, k);
          lastProbs[i] = probs;
          next.push(i);
          continue;
        }
        if (charged[i] !== 0) board.release(slot, worker, charged[i]!);
        charged[i] = 0;
        answers[i * stride] = k;
        answers[i * stride + 1] = DECIDED_EXITS.indexOf(decision);
        answers.set(probs, i * stride + 2 + 4 * K);
        lastProbs[i] = undefined;
      }
      alive = Int32Array.from(next);
    }
  } catch (err) {
    // the requests still running fail with the chain: their charges leave the board
    charged.forEach((flops, i) => {
      if (flops !== 0) board.release(rules.samples[3 * i + 2]!, worker, flops);
    });
    throw err;
  }
  return { answers: { data: answers, dims: [n, stride] }, stages: { data: stages, dims: [K, 2] } };
}

/** The batch tensor of `alive`'s rows of a carried tensor: the tensor itself when they are all of it, in order. */
function rowsOf(c: Carried, alive: Int32Array): HostTensor {
  return gatherRows(
    Array.from(alive, (i) => {
      const row = c.rowOf[i]!;
      if (row < 0) throw new Error("a request reads a row its stage did not make");
      return { tensor: c.tensor, row };
    }),
    c.tensor.dims.slice(1),
  );
}
