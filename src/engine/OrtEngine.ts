import path from "node:path";
import type { Logger } from "pino";
import type { UsableCpus } from "../core/usableCpus.js";
import type { Manifest } from "../format/manifest.js";
import { EnginePool } from "./EnginePool.js";
import { runAllStages } from "./runAllStages.js";
import type { BatchOptions, HostTensor, KeptBlock, RunOptions, StageBatch, StageBatchResult, StageRunner } from "./StageRunner.js";
import type { ChainAnswers, ChainModel, ChainRules } from "./stageChain.js";
import type { Signature } from "./workerProtocol.js";

export interface EngineOptions {
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose (only for an engine with its own pool). */
  intraOpThreads: number;
  interOpThreads: number;
  /** Worker threads of an engine with its own pool; 0 = automatic (autoEngineWorkers). */
  workers: number;
  /** The CPUs the process may use, for the automatic worker count (default: usableCpus()). */
  cpus?: UsableCpus;
  /** Load the manifest's fused whole-network graph as session K (default true when it has one). */
  fused?: boolean;
}

/** Distinguishes two loads of one model version (a reload of the same folder) in a pool. */
let loads = 0;

/**
 * One model version's sessions in an engine pool (EnginePool, the one module family that talks
 * to onnxruntime-node through worker threads): the StageRunner its pipeline runs on. Sessions are
 * the stages, then (session K) the fused whole-network graph when the manifest has one. Several
 * engines share one pool (the server's); `create` without a pool makes one of its own.
 */
export class OrtEngine implements StageRunner {
  private constructor(
    readonly manifest: Manifest,
    private readonly pool: EnginePool,
    /** This load's name in the pool (and the scheduler's model key of its batches). */
    readonly key: string,
    /** The execution provider the sessions were created with. */
    readonly provider: string,
    /** Whether session K (after the stages) is the fused whole-network graph. */
    readonly withFused: boolean,
    private readonly ownsPool: boolean,
  ) {}

  static async create(manifest: Manifest, opts: EngineOptions, log: Logger, shared?: EnginePool): Promise<OrtEngine> {
    const pool = shared ?? (await EnginePool.create(opts, log));
    const withFused = opts.fused !== false && manifest.fused !== undefined;
    const graphs = enginePrograms(manifest, withFused);
    const key = `${manifest.name}/${manifest.version}#${++loads}`;
    try {
      const { provider, signatures } = await pool.load(
        key,
        graphs.map((g) => path.join(manifest.dir, g.file)),
        opts.executionProviders,
      );
      try {
        checkSignatures(graphs, signatures);
      } catch (err) {
        await pool.unload(key);
        throw err;
      }
      log.info(
        { model: manifest.name, version: manifest.version, executionProvider: provider, sessions: graphs.length, workers: pool.workerCount },
        "model sessions created",
      );
      return new OrtEngine(manifest, pool, key, provider, withFused, !shared);
    } catch (err) {
      if (!shared) await pool.dispose();
      throw err;
    }
  }

  get workerCount(): number {
    return this.pool.workerCount;
  }

  runStage(stage: number, feeds: Record<string, HostTensor>, opts: RunOptions = {}): Promise<Record<string, HostTensor>> {
    return this.pool.run(this.key, stage, feeds, opts.transferInputs ?? false, opts.worker);
  }

  async runBatch(stage: number, batch: StageBatch, opts: BatchOptions): Promise<StageBatchResult> {
    const r = await this.pool.runKeeping(this.key, stage, batch.host, batch.kept, opts.keep, opts.transferInputs ?? false, opts.worker);
    return { host: r.outputs, kept: r.kept };
  }

  release(block: KeptBlock): void {
    this.pool.release(block);
  }

  runChain(model: ChainModel, batch: StageBatch, rules: ChainRules, opts: { worker: number; transferInputs?: boolean }): Promise<ChainAnswers> {
    return this.pool.runChain(this.key, model, batch.host, batch.kept, rules, opts.transferInputs ?? false, opts.worker);
  }

  /** Runs every stage (and the fused graph) once at each batch size on every worker, so first requests don't pay for allocation. */
  async warmUp(batchSizes: readonly number[]): Promise<void> {
    const shape = this.manifest.input.shape;
    await this.pool.onEachWorker(this.key, async (run) => {
      for (const n of batchSizes) {
        const input = { [this.manifest.input.name]: { data: new Float32Array(n * shape.reduce((a, b) => a * b, 1)), dims: [n, ...shape] } };
        await runAllStages({ runStage: run }, this.manifest.stages, input);
        if (this.withFused) await run(this.manifest.stages.length, input);
      }
    });
  }

  /** Frees this model's sessions (and the pool, if it is the engine's own). */
  async dispose(): Promise<void> {
    await this.pool.unload(this.key);
    if (this.ownsPool) await this.pool.dispose();
  }
}

export class EngineContractError extends Error {
  override name = "EngineContractError";
}

/** The graphs an engine loads, by session index: the stages, then the fused graph (index = number of stages). */
export function enginePrograms(m: Manifest, withFused = true): { file: string; inputs: readonly string[]; outputs: readonly string[] }[] {
  return withFused && m.fused ? [...m.stages, m.fused] : [...m.stages];
}

function checkSignatures(graphs: { file: string; inputs: readonly string[]; outputs: readonly string[] }[], signatures: Signature[]): void {
  signatures.forEach((s, k) => {
    const stage = graphs[k]!;
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(s.inputs, stage.inputs) || !same(s.outputs, stage.outputs)) {
      throw new EngineContractError(
        `${stage.file}: graph has inputs [${s.inputs}] outputs [${s.outputs}], manifest says [${stage.inputs}] -> [${stage.outputs}]`,
      );
    }
  });
}
