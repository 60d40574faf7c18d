import path from "node:path";
import * as ort from "onnxruntime-node";
import type { Logger } from "pino";
import type { Manifest } from "./manifest.js";
import type { HostTensor, StageRunner } from "./StageRunner.js";

export interface EngineOptions {
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose. */
  intraOpThreads: number;
  interOpThreads: number;
}

/** The one module that talks to onnxruntime-node: one InferenceSession per stage. */
export class OrtEngine implements StageRunner {
  private constructor(
    readonly manifest: Manifest,
    private readonly sessions: ort.InferenceSession[],
    /** The execution provider the sessions were created with. */
    readonly provider: string,
  ) {}

  static async create(manifest: Manifest, opts: EngineOptions, log: Logger): Promise<OrtEngine> {
    const providers = [...opts.executionProviders];
    for (let i = 0; i < providers.length; i++) {
      const ep = providers[i]!;
      try {
        const sessions: ort.InferenceSession[] = [];
        for (const stage of manifest.stages) {
          const file = path.join(manifest.dir, stage.file);
          try {
            sessions.push(
              await ort.InferenceSession.create(file, {
                executionProviders: [ep],
                ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
                ...(opts.interOpThreads ? { interOpNumThreads: opts.interOpThreads } : {}),
                graphOptimizationLevel: "all",
              }),
            );
          } catch (err) {
            await Promise.all(sessions.map((s) => s.release()));
            throw new Error(`cannot load stage ${file} with the ${ep} execution provider: ${(err as Error).message}`);
          }
        }
        checkSessions(manifest, sessions);
        log.info({ executionProvider: ep, stages: sessions.length }, "model sessions created");
        return new OrtEngine(manifest, sessions, ep);
      } catch (err) {
        const next = providers[i + 1];
        if (!next || err instanceof EngineContractError) throw err;
        log.warn(
          { executionProvider: ep, fallback: next, reason: (err as Error).message },
          `execution provider ${ep} could not load the model; falling back to ${next}`,
        );
      }
    }
    throw new Error("no execution provider configured");
  }

  async runStage(stage: number, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const session = this.sessions[stage]!;
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
    const out = await session.run(ortFeeds);
    const result: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { data: t.data as Float32Array, dims: t.dims };
      t.dispose?.();
    }
    return result;
  }

  /** Runs every stage once at each batch size so first requests don't pay for allocation. */
  async warmUp(batchSizes: readonly number[]): Promise<void> {
    const shape = this.manifest.input.shape;
    for (const n of batchSizes) {
      const env: Record<string, HostTensor> = {
        [this.manifest.input.name]: { data: new Float32Array(n * shape[0]! * shape[1]! * shape[2]!), dims: [n, ...shape] },
      };
      for (let k = 0; k < this.sessions.length; k++) {
        const feeds: Record<string, HostTensor> = {};
        for (const name of this.manifest.stages[k]!.inputs) feeds[name] = env[name]!;
        Object.assign(env, await this.runStage(k, feeds));
      }
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

export class EngineContractError extends Error {
  override name = "EngineContractError";
}

function checkSessions(m: Manifest, sessions: ort.InferenceSession[]): void {
  sessions.forEach((s, k) => {
    const stage = m.stages[k]!;
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(s.inputNames, stage.inputs) || !same(s.outputNames, stage.outputs)) {
      throw new EngineContractError(
        `${stage.file}: graph has inputs [${s.inputNames}] outputs [${s.outputNames}], ` +
          `manifest says [${stage.inputs}] -> [${stage.outputs}]`,
      );
    }
  });
}
