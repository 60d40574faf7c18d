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

/** What the pipeline needs from an inference engine: run stage k on named batch tensors. */
export interface StageRunner {
  runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>>;
}
