import type { RowRef } from "./carriedTensors.js";
import type { ClassifyResult, ExitPrediction, RequestOptions, Submission } from "./pipelineTypes.js";

/** A request inside the pipeline: where it is, what it carries, what it may still reach. */
export interface Sample {
  /** The tensors later stages read, as rows of the batch tensors that produced them. */
  tensors: Map<string, RowRef>;
  maxExit: number;
  fixed: boolean;
  opts: RequestOptions;
  predictions: ExitPrediction[];
  lastProbs?: Float32Array;
  settled: boolean;
  /** Its place in every queue: the priority level (0 with priorities off); lower goes first. */
  rank: number;
  stage: number;
  timer: unknown;
  /** When it joined its current stage's queue (pipeline clock), and its queue/run time so far. */
  enqueuedAtMs: number;
  queueMs: number;
  computeMs: number;
  /** Multiply-adds the exit policy charged for it as it went on to later stages (ExitPolicy.advanced). */
  chargedFlops: number;
  resolve(r: ClassifyResult): void;
  reject(e: Error): void;
}

/** The deepest 0-based exit a request may reach: its fixed exit, capped by what its FLOPs budget affords. */
export function maxExitFor(exitFlops: readonly number[], opts: RequestOptions): number {
  let maxExit = exitFlops.length - 1;
  if (opts.fixedExit !== undefined) maxExit = Math.min(maxExit, opts.fixedExit);
  if (opts.flopsBudget !== undefined) {
    const affordable = exitFlops.filter((f) => f <= opts.flopsBudget!).length - 1;
    // Classifier.options refuses such a budget with INVALID_ARGUMENT naming the protocol's field
    if (affordable < 0) throw new Error(`flopsBudget ${opts.flopsBudget} is under the first exit's cost (requests are validated before submit)`);
    maxExit = Math.min(maxExit, affordable);
  }
  return maxExit;
}

/** A submission refused before admission. */
export function rejected(err: Error): Submission {
  const result = Promise.reject(err);
  result.catch(() => {});
  return { result, cancel: () => {} };
}
