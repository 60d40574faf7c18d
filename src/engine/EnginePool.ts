import type { Logger } from "pino";
import { autoEngineWorkers, type UsableCpus, usableCpus } from "../core/usableCpus.js";
import type { HostTensor } from "./StageRunner.js";
import { StageWorker } from "./StageWorker.js";
import type { ModelSessions, Signature, WorkerSetup } from "./workerProtocol.js";

export interface PoolOptions {
  /** Execution providers in order of preference; the first decides the automatic worker count. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose. */
  intraOpThreads: number;
  interOpThreads: number;
  /** Worker threads, each holding the sessions of every loaded model. 0 = automatic (autoEngineWorkers). */
  workers: number;
  /** The CPUs the process may use, for the automatic worker count (default: usableCpus()). */
  cpus?: UsableCpus;
}

/**
 * Batches handed to a worker at once. 2: a worker has its next batch while it runs the current
 * one, so gathering, posting and scattering on the main thread overlap its compute (with 1 the
 * worker idled about 40% of the time under load). The rest wait in the pool's queues.
 */
export const RUNS_PER_WORKER = 2;

interface QueuedRun {
  stage: number;
  /** Priority level of the batch (lower first; 0 = none). */
  priority: number;
  feeds: Record<string, HostTensor>;
  transfer: boolean;
  resolve(out: Record<string, HostTensor>): void;
  reject(e: Error): void;
}

interface PoolModel {
  sessions: ModelSessions;
  queue: QueuedRun[];
  /** Its batches handed to workers and not answered yet. */
  inWorkers: number;
}

/**
 * One set of engine worker threads for every served model: each worker holds the sessions of
 * every loaded model, so threads and per-thread memory do not multiply with the models. Each
 * model has its own queue. An idle worker takes, of the models with a batch waiting, the one
 * with the fewest batches in the workers (round-robin among equals), and of that model the
 * batch of the highest priority level, of those the deepest stage (FIFO within a stage). A worker's second slot (a batch waiting in it behind the
 * running one) takes the same choice, but never a batch of another model that has as many
 * batches in the workers as the running one or more: a quiet model's batch, arriving while a
 * flooded model fills every slot, gets the next free slot (it waits for at most one running and
 * one waiting batch), and the flooded model's batches are not queued behind it, so the worker is
 * free for its next stage the moment it finishes. A worker that dies fails only the batches it
 * held and is replaced with every model's sessions.
 */
export class EnginePool {
  private readonly models = new Map<string, PoolModel>();
  /** Round-robin position over the models (insertion order of the map). */
  private turn = 0;
  /** The models of each worker's batches, in the order it runs them (the first is running). */
  private readonly held = new Map<StageWorker, PoolModel[]>();
  private disposed = false;

  private constructor(
    private readonly workers: StageWorker[],
    private readonly setup: WorkerSetup,
    private readonly log: Logger,
  ) {
    workers.forEach((w, i) => {
      this.watch(w, i);
    });
  }

  static async create(opts: PoolOptions, log: Logger): Promise<EnginePool> {
    const setup: WorkerSetup = { intraOpThreads: opts.intraOpThreads, interOpThreads: opts.interOpThreads };
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
      },
      "engine workers started",
    );
    return new EnginePool(workers, setup, log);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** Batches the workers hold at once: how many batches of one stage may be handed over together. */
  get batchSlots(): number {
    return this.workers.length * RUNS_PER_WORKER;
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
        this.models.set(key, { sessions, queue: [], inWorkers: 0 });
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

  /** Frees the sessions of model `key`; batches of it still queued fail. */
  async unload(key: string): Promise<void> {
    const m = this.models.get(key);
    if (!m) return;
    this.models.delete(key);
    for (const r of m.queue.splice(0)) r.reject(new Error("the model was unloaded"));
    await Promise.all(this.workers.filter((w) => w.alive).map((w) => w.unload(key).catch(() => {})));
  }

  /** Queues a stage batch of model `key` at priority level `priority` (lower first; 0 = none). */
  run(key: string, stage: number, feeds: Record<string, HostTensor>, transfer: boolean, priority = 0): Promise<Record<string, HostTensor>> {
    const m = this.models.get(key);
    if (this.disposed || !m) return Promise.reject(new Error(this.disposed ? "engine is disposed" : `model ${key} is not loaded`));
    return new Promise((resolve, reject) => {
      m.queue.push({ stage, priority, feeds, transfer, resolve, reject });
      this.pump();
    });
  }

  /**
   * A worker has no batch (not even one waiting in it) and no model's batch waits in the pool.
   * Not "has room for a second batch": handing over a batch whenever a worker's second slot was
   * free made batches small and cost 7-15% of the adaptive throughput.
   */
  hasIdleWorker(): boolean {
    for (const m of this.models.values()) if (m.queue.length > 0) return false;
    return this.workers.some((w) => w.alive && w.outstanding === 0);
  }

  /** Runs `fn` on every worker in turn with direct access to model `key`'s sessions (warm-up). */
  async onEachWorker(
    key: string,
    fn: (run: (stage: number, feeds: Record<string, HostTensor>) => Promise<Record<string, HostTensor>>) => Promise<void>,
  ): Promise<void> {
    await Promise.all(this.workers.map((w) => fn((stage, feeds) => w.run(key, stage, feeds, false))));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const m of this.models.values()) for (const r of m.queue.splice(0)) r.reject(new Error("engine is disposed"));
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  private pump(): void {
    if (!this.workers.some((w) => w.alive)) {
      for (const m of this.models.values()) for (const r of m.queue.splice(0)) r.reject(new Error("no engine worker is running (restarting after a failure)"));
      return;
    }
    // the least busy workers first: a second batch waits in a worker only when all have one
    for (let handed = true; handed; ) {
      handed = false;
      const room = this.workers.filter((w) => w.alive && w.outstanding < RUNS_PER_WORKER).sort((x, y) => x.outstanding - y.outstanding);
      for (const worker of room) {
        const held = this.held.get(worker) ?? [];
        this.held.set(worker, held);
        const next = this.nextModel(held[0]);
        if (!next) continue;
        this.hand(worker, held, ...next);
        handed = true;
        break;
      }
    }
  }

  /** Hands model `key`'s next batch to `worker`: its highest priority level, of that the deepest stage, FIFO within a stage. */
  private hand(worker: StageWorker, held: PoolModel[], key: string, m: PoolModel): void {
    let pick = 0;
    for (let i = 1; i < m.queue.length; i++) {
      const r = m.queue[i]!;
      const p = m.queue[pick]!;
      if (r.priority < p.priority || (r.priority === p.priority && r.stage > p.stage)) pick = i;
    }
    const r = m.queue.splice(pick, 1)[0]!;
    m.inWorkers++;
    held.push(m);
    const done = () => {
      // before the answer: the model's next stage is queued on it
      m.inWorkers--;
      held.splice(held.indexOf(m), 1);
    };
    worker
      .run(key, r.stage, r.feeds, r.transfer)
      .then(
        (out) => {
          done();
          r.resolve(out);
        },
        (err) => {
          done();
          r.reject(err);
        },
      )
      .finally(() => this.pump());
  }

  /**
   * Of the models with a batch waiting, the one with the fewest batches in the workers (from the
   * round-robin position among equals); for a worker running a batch of `running`, only that
   * model or one with fewer batches in the workers than it.
   */
  private nextModel(running: PoolModel | undefined): [string, PoolModel] | undefined {
    const entries = [...this.models.entries()];
    let best: [string, PoolModel] | undefined;
    let bestAt = 0;
    for (let i = 0; i < entries.length; i++) {
      const at = (this.turn + i) % entries.length;
      const [, m] = entries[at]!;
      if (m.queue.length > 0 && (!running || m === running || m.inWorkers < running.inWorkers) && (!best || m.inWorkers < best[1].inWorkers)) {
        best = entries[at]!;
        bestAt = at;
      }
    }
    if (best) this.turn = (bestAt + 1) % entries.length;
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
            this.watch(fresh, slot);
            this.log.info({ worker: slot }, "engine worker replaced");
            this.pump();
          },
          (err) => this.log.error({ worker: slot, err }, "engine worker could not be replaced"),
        );
    };
  }
}
