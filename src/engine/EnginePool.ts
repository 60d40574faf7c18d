import type { Logger } from "pino";
import { autoEngineWorkers, type UsableCpus, usableCpus } from "../core/usableCpus.js";
import { EngineWorkerStopped, type HostTensor, type KeptBlock, type KeptRow } from "./StageRunner.js";
import { StageWorker } from "./StageWorker.js";
import type { ChainAnswers, ChainModel, ChainRules } from "./stageChain.js";
import type { KeptRows, ModelSessions, Signature, WorkerSetup } from "./workerProtocol.js";

export interface PoolOptions {
  /** Execution providers in order of preference; the first decides the automatic worker count. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose. */
  intraOpThreads: number;
  interOpThreads: number;
  /** Worker threads, each holding the sessions of every loaded model. 0 = automatic (autoEngineWorkers). */
  workers: number;
  /** Whether the worker threads run under SCHED_BATCH (batchSchedulingPolicy.ts; config engineWorkerBatchScheduling); default false. */
  batchScheduling?: boolean;
  /** The CPUs the process may use, for the automatic worker count (default: usableCpus()). */
  cpus?: UsableCpus;
}

interface PoolModel {
  sessions: ModelSessions;
}

/**
 * One set of engine worker threads for every served model: each worker holds the sessions of
 * every loaded model, so threads and per-thread memory do not multiply with the models. It runs
 * a batch on the worker it is told (the scheduler owns the workers' slots and decides what runs
 * where; src/scheduler). Outputs a later stage reads stay in the worker that made them (kept
 * blocks), so a batch that reads kept rows runs where they are. A worker that dies fails only the
 * batches it held, and the rows it kept are gone (EngineWorkerStopped for whoever reads them); it
 * is replaced with every model's sessions; onWorkerBack tells the scheduler it takes work again.
 */
export class EnginePool {
  private readonly models = new Map<string, PoolModel>();
  /** Each worker slot's replacement count: kept blocks name the generation that made them. */
  private readonly generations: number[];
  private disposed = false;
  /** Called when a replaced worker takes work again. */
  onWorkerBack: () => void = () => {};

  private constructor(
    private readonly workers: StageWorker[],
    private readonly setup: WorkerSetup,
    private readonly log: Logger,
  ) {
    this.generations = workers.map(() => 0);
    workers.forEach((w, i) => {
      this.watch(w, i);
    });
  }

  static async create(opts: PoolOptions, log: Logger): Promise<EnginePool> {
    const setup: WorkerSetup = { intraOpThreads: opts.intraOpThreads, interOpThreads: opts.interOpThreads, batchScheduling: opts.batchScheduling ?? false };
    const cpus = opts.cpus ?? usableCpus();
    const count = opts.workers || autoEngineWorkers(opts.executionProviders[0] ?? "cpu", cpus.cpus);
    const results = await Promise.allSettled(Array.from({ length: count }, () => StageWorker.start(setup)));
    const workers = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await Promise.all(workers.map((w) => w.stop()));
      throw failed.reason;
    }
    log.info(
      {
        workers: count,
        workersFrom: opts.workers ? "config engineWorkers" : `automatic: ${cpus.cpus} usable CPUs from ${cpus.source}`,
        intraOpThreads: opts.intraOpThreads,
        schedulingPolicy: schedulingPolicy(setup, workers),
      },
      "engine workers started",
    );
    const policyFailed = workers.find((w) => w.batchSchedulingFailed)?.batchSchedulingFailed;
    if (policyFailed) log.warn(`engine workers run under the normal scheduling policy (engineWorkerBatchScheduling): ${policyFailed}`);
    return new EnginePool(workers, setup, log);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Whether worker `i` takes work now (false while it is being replaced after a failure). */
  alive(i: number): boolean {
    return this.workers[i]?.alive ?? false;
  }

  /**
   * Creates the sessions of model `key` (its graph files in session order) in every worker, on
   * the first execution provider that can load them all; resolves with that provider and the
   * sessions' signatures. A provider that fails is logged and the next one tried.
   */
  async load(key: string, files: string[], providers: readonly string[]): Promise<{ provider: string; signatures: Signature[] }> {
    if (this.models.has(key)) throw new Error(`model ${key} is already loaded`);
    for (let i = 0; i < providers.length; i++) {
      const sessions: ModelSessions = { files, executionProvider: providers[i]! };
      const results = await Promise.allSettled(this.workers.map((w) => w.load(key, sessions)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (!failed) {
        this.models.set(key, { sessions });
        return { provider: sessions.executionProvider, signatures: (results[0] as PromiseFulfilledResult<Signature[]>).value };
      }
      await Promise.all(this.workers.map((w) => w.unload(key).catch(() => {})));
      const next = providers[i + 1];
      if (!next) throw failed.reason;
      this.log.warn(
        { model: key, executionProvider: sessions.executionProvider, fallback: next, err: failed.reason },
        `execution provider ${sessions.executionProvider} could not load the model; falling back to ${next}`,
      );
    }
    throw new Error("no execution provider configured");
  }

  /** Frees the sessions of model `key` (after the batches handed over before). */
  async unload(key: string): Promise<void> {
    if (!this.models.delete(key)) return;
    await Promise.all(this.workers.filter((w) => w.alive).map((w) => w.unload(key).catch(() => {})));
  }

  /** Runs a stage batch of model `key` on host tensors on worker `worker` (default: the live one with the fewest batches); every output comes back. */
  async run(key: string, stage: number, feeds: Record<string, HostTensor>, transfer: boolean, worker?: number): Promise<Record<string, HostTensor>> {
    const w = this.workerFor(key, worker ?? this.leastBusy());
    return (await w.run(key, stage, feeds, transfer)).outputs;
  }

  /**
   * Runs a stage batch of model `key` on worker `worker`, reading `kept` rows there (each block
   * must be that worker's, of its current generation); the outputs named in `keep` stay there as
   * a new block, the others come back.
   */
  async runKeeping(
    key: string,
    stage: number,
    host: Record<string, HostTensor>,
    kept: Record<string, readonly KeptRow[]>,
    keep: readonly string[],
    transfer: boolean,
    worker: number,
  ): Promise<{ outputs: Record<string, HostTensor>; kept?: KeptBlock }> {
    const w = this.workerFor(key, worker);
    const generation = this.generations[worker]!;
    const wire = this.keptRows(kept, worker);
    const { outputs, block } = await w.run(key, stage, host, transfer, wire, keep.length ? [...keep] : undefined);
    return { outputs, kept: block === undefined ? undefined : { worker, generation, id: block } };
  }

  /** Runs a stage batch of model `key` on worker `worker` (its inputs as runKeeping's) through the stages its samples need, deciding their exits there (stageChain.ts). */
  runChain(
    key: string,
    setup: ChainModel,
    host: Record<string, HostTensor>,
    kept: Record<string, readonly KeptRow[]>,
    rules: ChainRules,
    transfer: boolean,
    worker: number,
  ): Promise<ChainAnswers> {
    const w = this.workerFor(key, worker);
    return w.chain(key, setup, worker, host, this.keptRows(kept, worker), rules, transfer);
  }

  /** `kept` rows as a message carries them; each block must be worker `worker`'s, of its current generation. */
  private keptRows(kept: Record<string, readonly KeptRow[]>, worker: number): KeptRows | undefined {
    const generation = this.generations[worker]!;
    const names = Object.keys(kept);
    let wire: KeptRows | undefined;
    if (names.length > 0) {
      const n = kept[names[0]!]!.length;
      const at = new Int32Array(2 * n * names.length);
      names.forEach((name, i) => {
        kept[name]!.forEach((r, j) => {
          if (r.block.worker !== worker || r.block.generation !== generation) {
            throw new EngineWorkerStopped(`the engine worker that held '${name}' for this request stopped (it was replaced)`);
          }
          at[2 * (i * n + j)] = r.block.id;
          at[2 * (i * n + j) + 1] = r.row;
        });
      });
      wire = { names, at };
    }
    return wire;
  }

  /** Nothing reads `block` any more: its worker frees it after the runs handed over before (nothing to do when that worker was replaced). */
  release(block: KeptBlock): void {
    if (this.generations[block.worker] !== block.generation) return;
    this.workers[block.worker]?.free(block.id);
  }

  private workerFor(key: string, worker: number): StageWorker {
    if (this.disposed) throw new Error("engine is disposed");
    if (!this.models.has(key)) throw new Error(`model ${key} is not loaded`);
    const w = this.workers[worker];
    if (!w?.alive) throw new EngineWorkerStopped("no engine worker is running there (restarting after a failure)");
    return w;
  }

  /** Runs `fn` on every worker in turn with direct access to model `key`'s sessions (warm-up). */
  async onEachWorker(
    key: string,
    fn: (run: (stage: number, feeds: Record<string, HostTensor>) => Promise<Record<string, HostTensor>>) => Promise<void>,
  ): Promise<void> {
    await Promise.all(this.workers.map((w) => fn(async (stage, feeds) => (await w.run(key, stage, feeds, false)).outputs)));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  /** The live worker with the fewest batches (-1 when none is live). */
  private leastBusy(): number {
    let best = -1;
    this.workers.forEach((w, i) => {
      if (w.alive && (best < 0 || w.outstanding < this.workers[best]!.outstanding)) best = i;
    });
    return best;
  }

  /** Replaces a worker that exits on its own (its outstanding batches have failed already) and loads every model into it. */
  private watch(w: StageWorker, slot: number): void {
    w.onDeath = (reason) => {
      if (this.disposed) return;
      this.log.error({ worker: slot, reason }, "engine worker died; its outstanding batches failed; starting a replacement");
      StageWorker.start(this.setup)
        .then(async (fresh) => {
          for (const [key, m] of this.models) await fresh.load(key, m.sessions);
          return fresh;
        })
        .then(
          (fresh) => {
            if (this.disposed) return void fresh.stop();
            this.workers[slot] = fresh;
            this.generations[slot]!++;
            this.watch(fresh, slot);
            this.log.info({ worker: slot, schedulingPolicy: schedulingPolicy(this.setup, [fresh]) }, "engine worker replaced");
            this.onWorkerBack();
          },
          (err) => this.log.error({ worker: slot, err }, "engine worker could not be replaced"),
        );
    };
  }
}

/** How the workers are scheduled, for the log: "batch" (SCHED_BATCH), "normal", or "normal (SCHED_BATCH failed)". */
function schedulingPolicy(setup: WorkerSetup, workers: readonly StageWorker[]): string {
  if (!setup.batchScheduling) return "normal";
  return workers.some((w) => w.batchSchedulingFailed) ? "normal (SCHED_BATCH failed)" : "batch";
}
