import type { TensorRef } from "./carriedTensors.js";
import type { ExitPolicy } from "./ExitPolicy.js";
import type { ClassifyResult, ExitPrediction, ExitReason, RequestOptions, Submission } from "./pipelineTypes.js";

/**
 * Where a request is: waiting in a queue, in a batch the engine runs, or out of the pipeline
 * (answered: resolved or failed by the server; withdrawn: cancelled by its client or past its
 * deadline without an answer).
 */
export type SampleStatus = "queued" | "running" | "answered" | "withdrawn";

/** Which programs a request runs: the stages one by one (exiting early), or the fused whole-network graph. */
export type SamplePath = "staged" | "fused";

/** A request inside the pipeline: where it is, what it carries, what it may still reach. */
export interface Sample {
  status: SampleStatus;
  path: SamplePath;
  /** The tensors later stages read: its input's row here, and rows of blocks kept in the engine worker that made them. */
  tensors: Map<string, TensorRef>;
  /** The engine worker holding its kept tensors (its later stages run there); undefined before its first stage. */
  worker: number | undefined;
  maxExit: number;
  fixed: boolean;
  opts: RequestOptions;
  predictions: ExitPrediction[];
  lastProbs?: Float32Array;
  /** The budget it is held to (its tenant's, or the model's): exit decisions and charges go to it. */
  policy: ExitPolicy;
  /** Its place in every queue: the priority level (0 with priorities off); lower goes first. */
  rank: number;
  /** The stage it waits for or runs (0-based; on the fused path, 0). */
  stage: number;
  timer: unknown;
  /** Its queue timeout in the entry queue (RequestOptions.queueTimeoutMs), if any. */
  queueTimer: unknown;
  /** When it joined its current stage's queue (pipeline clock), and its queue/run time so far. */
  enqueuedAtMs: number;
  queueMs: number;
  computeMs: number;
  /** Multiply-adds the exit policy charged for it as it went on to later stages (ExitPolicy.advanced). */
  chargedFlops: number;
  resolve(r: ClassifyResult): void;
  reject(e: Error): void;
}

/** A request entering the pipeline with its input tensor (`inputName`: its row `input`), queued for its first program, and the promise its answer settles. */
export function newSample(
  opts: RequestOptions,
  inputName: string,
  input: TensorRef,
  at: Pick<Sample, "maxExit" | "policy" | "path" | "enqueuedAtMs">,
): { sample: Sample; result: Promise<ClassifyResult> } {
  const tensors: Sample["tensors"] = new Map();
  tensors.set(inputName, input);
  let sample!: Sample;
  const result = new Promise<ClassifyResult>((resolve, reject) => {
    // every field written here, in one literal: one hidden class for every sample (no spread)
    sample = {
      tensors,
      maxExit: at.maxExit,
      policy: at.policy,
      path: at.path,
      enqueuedAtMs: at.enqueuedAtMs,
      fixed: opts.fixedExit !== undefined && opts.fixedExit <= at.maxExit,
      opts,
      predictions: [],
      status: "queued",
      worker: undefined,
      rank: opts.priority ?? 0,
      stage: 0,
      timer: undefined,
      queueTimer: undefined,
      queueMs: 0,
      computeMs: 0,
      chargedFlops: 0,
      resolve,
      reject,
    };
  });
  return { sample, result };
}

/** Sample `s`'s answer from prediction `p` (one object literal: every answer has one hidden class). */
export function resultOf(s: Sample, p: ExitPrediction, probabilities: Float32Array, reason: ExitReason): ClassifyResult {
  return {
    exit: p.exit,
    classIndex: p.classIndex,
    confidence: p.confidence,
    flops: p.flops,
    ownClassIndex: p.ownClassIndex,
    ownConfidence: p.ownConfidence,
    probabilities,
    reason,
    exits: s.opts.returnAllExits ? s.predictions : [],
    queueMs: s.queueMs,
    computeMs: s.computeMs,
  };
}

/** Whether the request has left the pipeline. */
export function isOut(s: Sample): boolean {
  return s.status === "answered" || s.status === "withdrawn";
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
