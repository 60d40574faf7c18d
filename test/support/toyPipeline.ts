import type { HostTensor, RunOptions, StageRunner } from "../../src/engine/StageRunner.js";
import type { PipelineModel } from "../../src/pipeline/Pipeline.js";
import type { FakeClock } from "./FakeClock.js";

/**
 * A 3-stage toy model on a 1-value input x in [0,1]: stage k carries h = x*10 + k and its
 * logits make class 1 more confident the larger x is: logits = [0, (k+1) * 10 * x].
 */
export const model: PipelineModel = {
  inputName: "image",
  inputShape: [1],
  stages: [
    { inputs: ["image"], outputs: ["logits", "h0"] },
    { inputs: ["h0"], outputs: ["logits", "h1"] },
    { inputs: ["h1"], outputs: ["logits"] },
  ],
  exitFlops: [10, 25, 40],
  classes: 2,
};

export class ToyRunner implements Pick<StageRunner, "runStage"> {
  calls: { stage: number; n: number }[] = [];
  /** The engine worker each call ran on (RunOptions.worker). */
  workers: (number | undefined)[] = [];
  failStage = -1;
  /** Simulated run time of every batch, on the fake clock. */
  batchMs = 0;
  constructor(private readonly clock: FakeClock) {}
  async runStage(stage: number, feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>> {
    const input = Object.values(feeds)[0]!;
    const n = input.dims[0]!;
    this.calls.push({ stage, n });
    this.workers.push(opts?.worker);
    if (this.batchMs > 0) await new Promise<void>((r) => this.clock.setTimer(() => r(), this.batchMs));
    if (stage === this.failStage) throw new Error("kernel exploded");
    const x = Array.from(input.data, (v) => (stage === 0 ? v : (v - (stage - 1)) / 10));
    const logits = new Float32Array(n * 2);
    x.forEach((xi, i) => {
      logits[i * 2 + 1] = (stage + 1) * 10 * xi;
    });
    const out: Record<string, HostTensor> = { logits: { data: logits, dims: [n, 2] } };
    if (stage < 2) out[`h${stage}`] = { data: Float32Array.from(x, (xi) => xi * 10 + stage), dims: [n, 1] };
    return out;
  }
}
