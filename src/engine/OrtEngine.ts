import path from "node:path";
import type { Logger } from "pino";
import { autoEngineWorkers, type UsableCpus, usableCpus } from "../core/usableCpus.js";
import type { Manifest } from "../format/manifest.js";
import { runAllStages } from "./runAllStages.js";
import type { HostTensor, RunOptions, StageRunner } from "./StageRunner.js";
import { StageWorker } from "./StageWorker.js";
import type { WorkerSetup } from "./workerProtocol.js";

export interface EngineOptions {
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose. */
  intraOpThreads: number;
  interOpThreads: number;
  /**
   * Worker threads running stage batches; each holds a session per stage. 0 = automatic
   * (autoEngineWorkers: on CPU one per usable CPU, at least 1; on a GPU 1).
   */
  workers: number;
  /** The CPUs the process may use, for the automatic worker count (default: usableCpus()). */
  cpus?: UsableCpus;
  /** Load the manifest's fused whole-network graph as session K (default true when it has one). */
  fused?: boolean;
}

/**
 * The one module family that talks to onnxruntime-node. onnxruntime-node computes
 * synchronously on the calling thread, so sessions live in worker threads (ortWorker.ts) and
 * the main thread only moves tensors: gRPC I/O, admission and batching stay responsive while
 * stages run. Batches wait in one queue for a free worker (deepest stage first); a worker that
 * dies fails only the batch it was running and is replaced.
 */
export class OrtEngine implements StageRunner {
  private disposed = false;
  private readonly queue: QueuedRun[] = [];

  private constructor(
    readonly manifest: Manifest,
    private readonly workers: StageWorker[],
    /** The execution provider the sessions were created with. */
    readonly provider: string,
    private readonly setup: WorkerSetup,
    private readonly log: Logger,
    /** Whether session K (after the stages) is the fused whole-network graph. */
    readonly withFused: boolean,
  ) {
    workers.forEach((w, i) => {
      this.watch(w, i);
    });
  }

  static async create(manifest: Manifest, opts: EngineOptions, log: Logger): Promise<OrtEngine> {
    const providers = [...opts.executionProviders];
    // the stages, then (session K) the fused whole graph when the manifest has one
    const withFused = opts.fused !== false && manifest.fused !== undefined;
    const graphs = enginePrograms(manifest, withFused);
    const files = graphs.map((g) => path.join(manifest.dir, g.file));
    for (let i = 0; i < providers.length; i++) {
      const ep = providers[i]!;
      const setup: WorkerSetup = { files, executionProvider: ep, intraOpThreads: opts.intraOpThreads, interOpThreads: opts.interOpThreads };
      const cpus = opts.cpus ?? usableCpus();
      const count = opts.workers || autoEngineWorkers(ep, cpus.cpus);
      const started = Array.from({ length: count }, () => StageWorker.start(setup));
      const results = await Promise.allSettled(started);
      const workers = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      try {
        if (failed) throw failed.reason;
        checkSignatures(graphs, workers[0]!.signatures);
      } catch (err) {
        await Promise.all(workers.map((w) => w.stop()));
        const next = providers[i + 1];
        if (!next || err instanceof EngineContractError) throw err;
        log.warn({ executionProvider: ep, fallback: next, err }, `execution provider ${ep} could not load the model; falling back to ${next}`);
        continue;
      }
      log.info(
        {
          executionProvider: ep,
          stages: files.length,
          workers: workers.length,
          workersFrom: opts.workers ? "config engineWorkers" : `automatic: ${cpus.cpus} usable CPUs from ${cpus.source}`,
          intraOpThreads: opts.intraOpThreads,
        },
        "model sessions created",
      );
      return new OrtEngine(manifest, workers, ep, setup, log, withFused);
    }
    throw new Error("no execution provider configured");
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Batches the workers hold at once (RUNS_PER_WORKER each): how many batches of one stage may
   * be handed over together. With fewer, a model served through one graph (the fused path, a
   * forced last exit) kept no batch waiting in a worker, which then idled between batches.
   */
  get batchSlots(): number {
    return this.workers.length * RUNS_PER_WORKER;
  }

  /**
   * Queues a stage batch. A worker holds at most RUNS_PER_WORKER batches; one with room takes
   * the deepest stage waiting (FIFO within a stage), so requests already in the network finish
   * before new ones start: under overload the first stage gets what capacity is left and
   * admission sees it through the first stage's batch time.
   */
  runStage(stage: number, feeds: Record<string, HostTensor>, opts: RunOptions = {}): Promise<Record<string, HostTensor>> {
    if (this.disposed) return Promise.reject(new Error("engine is disposed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ stage, feeds, transfer: opts.transferInputs ?? false, resolve, reject });
      this.pump();
    });
  }

  /**
   * A worker has no batch (not even one waiting in it) and none waits in the engine's queue. Not
   * "has room for a second batch": handing over a batch whenever a worker's second slot was free
   * made batches small and cost 7-15% of the adaptive throughput (docs/performance.md).
   */
  hasIdleWorker(): boolean {
    return this.queue.length === 0 && this.workers.some((w) => w.alive && w.outstanding === 0);
  }

  private pump(): void {
    for (;;) {
      if (this.queue.length === 0) return;
      // the least busy worker with room: a second batch waits in a worker only when all have one
      let worker: StageWorker | undefined;
      for (const w of this.workers) if (w.alive && w.outstanding < RUNS_PER_WORKER && (!worker || w.outstanding < worker.outstanding)) worker = w;
      if (!worker) {
        if (!this.workers.some((w) => w.alive)) {
          for (const r of this.queue.splice(0)) r.reject(new Error("no engine worker is running (restarting after a failure)"));
        }
        return;
      }
      let pick = 0;
      for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.stage > this.queue[pick]!.stage) pick = i;
      const r = this.queue.splice(pick, 1)[0]!;
      worker
        .run(r.stage, r.feeds, r.transfer)
        .then(r.resolve, r.reject)
        .finally(() => this.pump());
    }
  }

  /** Runs every stage (and the fused graph) once at each batch size on every worker, so first requests don't pay for allocation. */
  async warmUp(batchSizes: readonly number[]): Promise<void> {
    const shape = this.manifest.input.shape;
    await Promise.all(
      this.workers.map(async (w) => {
        for (const n of batchSizes) {
          const input = { [this.manifest.input.name]: { data: new Float32Array(n * shape.reduce((a, b) => a * b, 1)), dims: [n, ...shape] } };
          await runAllStages({ runStage: (k, feeds) => w.run(k, feeds, false) }, this.manifest.stages, input);
          if (this.withFused) await w.run(this.manifest.stages.length, input, false);
        }
      }),
    );
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const r of this.queue.splice(0)) r.reject(new Error("engine is disposed"));
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  /** Replaces a worker that exits on its own (its outstanding batches have failed already). */
  private watch(w: StageWorker, slot: number): void {
    w.onDeath = (reason) => {
      if (this.disposed) return;
      this.log.error({ worker: slot, reason }, "engine worker died; its outstanding batches failed; starting a replacement");
      StageWorker.start(this.setup).then(
        (fresh) => {
          if (this.disposed) return void fresh.stop();
          this.workers[slot] = fresh;
          this.watch(fresh, slot);
          this.log.info({ worker: slot }, "engine worker replaced");
          this.pump();
        },
        (err) => this.log.error({ worker: slot, err }, "engine worker could not be replaced"),
      );
    };
  }
}

/**
 * Batches handed to a worker at once. 2: a worker has its next batch while it runs the current
 * one, so gathering, posting and scattering on the main thread overlap its compute (with 1 the
 * worker idled about 40% of the time under load). The rest wait in the engine's queue, deepest
 * stage first.
 */
const RUNS_PER_WORKER = 2;

interface QueuedRun {
  stage: number;
  feeds: Record<string, HostTensor>;
  transfer: boolean;
  resolve(out: Record<string, HostTensor>): void;
  reject(e: Error): void;
}

export class EngineContractError extends Error {
  override name = "EngineContractError";
}

/** The graphs an engine loads, by session index: the stages, then the fused graph (index = number of stages). */
export function enginePrograms(m: Manifest, withFused = true): { file: string; inputs: readonly string[]; outputs: readonly string[] }[] {
  return withFused && m.fused ? [...m.stages, m.fused] : [...m.stages];
}

function checkSignatures(
  graphs: { file: string; inputs: readonly string[]; outputs: readonly string[] }[],
  signatures: { inputs: string[]; outputs: string[] }[],
): void {
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
