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
  /** The batch's best priority level (lower first; 0 = none): the engine runs lower values first, before stage depth. */
  priority?: number;
}

/** What the pipeline needs from an inference engine: run stage k on named batch tensors. */
export interface StageRunner {
  runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>>;
  /**
   * Whether a batch handed over now would start at once: a worker has nothing to run and nothing
   * waits for one (the pipeline then runs partial batches instead of keeping it idle). A runner
   * without it is taken as always busy: batches wait to fill or for maxQueueDelayMs.
   */
  hasIdleWorker?(): boolean;
}
