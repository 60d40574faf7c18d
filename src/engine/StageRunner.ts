import type { ChainAnswers, ChainModel, ChainRules } from "./stageChain.js";

/** A dense float32 tensor: data in row-major order with its dims (batch first). */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface RunOptions {
  /**
   * The caller hands the feeds' buffers over: the runner may move them to another thread,
   * leaving them detached (empty) in the caller. Default false: feeds are copied.
   */
  transferInputs?: boolean;
  /** The engine worker to run it on (the scheduler's choice); default: the one with the fewest batches. */
  worker?: number;
}

/**
 * The outputs of one stage batch that stayed in the engine (in the worker that ran it): later
 * stages read their rows there, so they never travel through the caller. `generation` tells a
 * worker's replacement apart (a replaced worker's blocks are gone).
 */
export interface KeptBlock {
  readonly worker: number;
  readonly generation: number;
  readonly id: number;
}

/** One sample's row of a kept block. */
export interface KeptRow {
  block: KeptBlock;
  row: number;
}

/** A stage batch's inputs: tensors the caller holds (batch first), and rows of tensors kept in the engine, per input name. */
export interface StageBatch {
  host: Record<string, HostTensor>;
  /** Per input name, each sample's row, in batch order; every block on the worker that runs the batch. */
  kept: Record<string, readonly KeptRow[]>;
}

export interface StageBatchResult {
  /** The outputs not kept (the logits), batch first. */
  host: Record<string, HostTensor>;
  /** The kept outputs, when `keep` named any. */
  kept?: KeptBlock;
}

export interface BatchOptions {
  /** The engine worker to run it on (the scheduler's choice; the one holding its kept rows). */
  worker: number;
  /** Outputs to keep in the engine as one block for later stages; the others come back. */
  keep: readonly string[];
  /** As RunOptions.transferInputs, for `host`. */
  transferInputs?: boolean;
}

/** The worker that held a batch's kept rows stopped (or was replaced): the rows are gone. Callers answer UNAVAILABLE (retryable). */
export class EngineWorkerStopped extends Error {
  override name = "EngineWorkerStopped";
}

/** What the pipeline needs from an inference engine: run stage k on a batch, keeping what later stages read where it was made. */
export interface StageRunner {
  /** Runs stage k on host tensors and returns every output (warm-up, calibration, tools). */
  runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>>;
  /** Runs stage k on a batch on `opts.worker`: the outputs in `opts.keep` stay there as one block, the rest come back. */
  runBatch(stage: number, batch: StageBatch, opts: BatchOptions): Promise<StageBatchResult>;
  /** Nothing reads `block` any more: the engine frees it (soon; never before the runs already handed over). */
  release(block: KeptBlock): void;
  /**
   * Runs a batch of stage `rules.stage` on `opts.worker` through the stages its samples need,
   * deciding each exit there (stageChain.ts); `batch` holds every tensor its samples carry (kept
   * rows on that worker). What the stages make is freed there when it returns. Absent: the runner
   * only runs one stage at a time.
   */
  runChain?(model: ChainModel, batch: StageBatch, rules: ChainRules, opts: { worker: number; transferInputs?: boolean }): Promise<ChainAnswers>;
}
