/** A dense float32 tensor: data in row-major order with its dims (batch first). */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** What the pipeline needs from an inference engine: run stage k on named batch tensors. */
export interface StageRunner {
  runStage(stage: number, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
}
