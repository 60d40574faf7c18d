import type { HostTensor, StageRunner } from "./StageRunner.js";

/**
 * Runs every stage in order on one batch, without early exit: each stage is fed from the input
 * and the outputs of the stages before it. `onStage` sees each stage's outputs (its `logits`
 * are exit k's). Warm-up, calibration, parity checks and the raw-engine benchmark use it.
 */
export async function runAllStages(
  runner: Pick<StageRunner, "runStage">,
  stages: readonly { inputs: readonly string[] }[],
  input: Record<string, HostTensor>,
  onStage?: (k: number, outputs: Record<string, HostTensor>) => void,
): Promise<Record<string, HostTensor>> {
  const env: Record<string, HostTensor> = { ...input };
  for (let k = 0; k < stages.length; k++) {
    const feeds: Record<string, HostTensor> = {};
    for (const name of stages[k]!.inputs) {
      const t = env[name];
      if (!t) throw new Error(`stage ${k + 1} reads '${name}', which neither the input nor an earlier stage produces`);
      feeds[name] = t;
    }
    const out = await runner.runStage(k, feeds);
    Object.assign(env, out);
    onStage?.(k, out);
  }
  return env;
}
