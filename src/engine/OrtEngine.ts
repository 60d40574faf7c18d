import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { autoEngineWorkers, type UsableCpus, usableCpus } from "../core/usableCpus.js";
import type { Manifest } from "./manifest.js";
import type { HostTensor, RunOptions, StageRunner } from "./StageRunner.js";
import { ownsBuffer, type WireTensor, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

export interface EngineOptions {
  /** Execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  executionProviders: readonly string[];
  /** 0 lets onnxruntime choose. */
  intraOpThreads: number;
  interOpThreads: number;
  /**
   * Worker threads running stage batches; each holds a session per stage. 0 = automatic
   * (autoEngineWorkers: on CPU one per usable CPU less one, at least 1; on a GPU 1).
   */
  workers: number;
  /** The CPUs the process may use, for the automatic worker count (default: usableCpus()). */
  cpus?: UsableCpus;
}

/** ortWorker beside this file: .js when built; .ts when run from source (tsx, vitest), loaded through tsx. */
const SELF = fileURLToPath(import.meta.url);
const WORKER_FILE = path.join(path.dirname(SELF), `ortWorker${path.extname(SELF)}`);
const newWorker = (workerData: WorkerSetup): Worker =>
  WORKER_FILE.endsWith(".ts")
    ? new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(WORKER_FILE).href)}); });`, {
        eval: true,
        workerData,
      })
    : new Worker(WORKER_FILE, { workerData });

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
  ) {
    workers.forEach((w, i) => {
      this.watch(w, i);
    });
  }

  static async create(manifest: Manifest, opts: EngineOptions, log: Logger): Promise<OrtEngine> {
    const providers = [...opts.executionProviders];
    const files = manifest.stages.map((s) => path.join(manifest.dir, s.file));
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
        checkSignatures(manifest, workers[0]!.signatures);
      } catch (err) {
        await Promise.all(workers.map((w) => w.stop()));
        const next = providers[i + 1];
        if (!next || err instanceof EngineContractError) throw err;
        log.warn(
          { executionProvider: ep, fallback: next, reason: (err as Error).message },
          `execution provider ${ep} could not load the model; falling back to ${next}`,
        );
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
      return new OrtEngine(manifest, workers, ep, setup, log);
    }
    throw new Error("no execution provider configured");
  }

  get workerCount(): number {
    return this.workers.length;
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

  private pump(): void {
    for (;;) {
      if (this.queue.length === 0) return;
      const worker = this.workers.find((w) => w.alive && w.outstanding < RUNS_PER_WORKER);
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

  /** Runs every stage once at each batch size on every worker, so first requests don't pay for allocation. */
  async warmUp(batchSizes: readonly number[]): Promise<void> {
    const shape = this.manifest.input.shape;
    await Promise.all(
      this.workers.map(async (w) => {
        for (const n of batchSizes) {
          const env: Record<string, HostTensor> = {
            [this.manifest.input.name]: { data: new Float32Array(n * shape.reduce((a, b) => a * b, 1)), dims: [n, ...shape] },
          };
          for (let k = 0; k < this.manifest.stages.length; k++) {
            const feeds: Record<string, HostTensor> = {};
            for (const name of this.manifest.stages[k]!.inputs) feeds[name] = env[name]!;
            Object.assign(env, await w.run(k, feeds, false));
          }
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
        (err) => this.log.error({ worker: slot, reason: (err as Error).message }, "engine worker could not be replaced"),
      );
    };
  }
}

/**
 * Batches handed to a worker at once. 1: the rest wait in the engine's queue, in priority order.
 * (2, to hide the message round trip, was no faster and had a higher overload p99 in one
 * comparison on 2 cores.)
 */
const RUNS_PER_WORKER = 1;

/** How long stop() waits for a worker to release its sessions before terminating it. */
const STOP_TIMEOUT_MS = 30_000;

interface QueuedRun {
  stage: number;
  feeds: Record<string, HostTensor>;
  transfer: boolean;
  resolve(out: Record<string, HostTensor>): void;
  reject(e: Error): void;
}

/** One worker thread with its stage sessions; runs are answered by id. */
class StageWorker {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(out: Record<string, HostTensor>): void; reject(e: Error): void }>();
  private stopping = false;
  alive = true;
  onDeath: (reason: string) => void = () => {};

  private constructor(
    private readonly worker: Worker,
    readonly signatures: { inputs: string[]; outputs: string[] }[],
  ) {
    worker.on("message", (msg: WorkerReply) => {
      if (msg.type !== "result" && msg.type !== "error") return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === "result") p?.resolve(msg.outputs);
      else p?.reject(new Error(msg.message));
    });
    const die = (reason: string) => {
      if (!this.alive) return;
      this.alive = false;
      for (const p of this.pending.values()) p.reject(new Error(`engine worker stopped: ${reason}`));
      this.pending.clear();
      if (!this.stopping) this.onDeath(reason);
    };
    worker.on("error", (err) => die(err.message));
    worker.on("exit", (code) => die(`exit code ${code}`));
  }

  static start(setup: WorkerSetup): Promise<StageWorker> {
    const worker = newWorker(setup);
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        void worker.terminate();
        reject(err);
      };
      worker.once("error", fail);
      worker.once("message", (msg: WorkerReply) => {
        worker.off("error", fail);
        if (msg.type === "ready") resolve(new StageWorker(worker, msg.signatures));
        else fail(new Error(msg.type === "failed" ? msg.message : `unexpected first message ${msg.type} from an engine worker`));
      });
    });
  }

  get outstanding(): number {
    return this.pending.size;
  }

  run(stage: number, feeds: Record<string, HostTensor>, transferInputs: boolean): Promise<Record<string, HostTensor>> {
    if (!this.alive) return Promise.reject(new Error("engine worker stopped"));
    const id = ++this.seq;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      wire[name] = { data: t.data, dims: [...t.dims] };
      if (transferInputs && ownsBuffer(t.data)) transfer.push(t.data.buffer as ArrayBuffer);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "run", id, stage, feeds: wire } satisfies WorkerRequest, transfer);
    });
  }

  /**
   * Releases the sessions and ends the thread. The release waits for the batch the worker is
   * running: terminating a worker inside session.run aborts the whole process (onnxruntime-node
   * throws a C++ exception when its environment goes away), so terminate() only follows the
   * release, or a long timeout for a worker that never answers.
   */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.stopping = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
      this.worker.on("message", (msg: WorkerReply) => {
        if (msg.type === "released") {
          clearTimeout(timer);
          resolve();
        }
      });
      this.worker.postMessage({ type: "release" } satisfies WorkerRequest);
    });
    await this.worker.terminate();
  }
}

export class EngineContractError extends Error {
  override name = "EngineContractError";
}

function checkSignatures(m: Manifest, signatures: { inputs: string[]; outputs: string[] }[]): void {
  signatures.forEach((s, k) => {
    const stage = m.stages[k]!;
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(s.inputs, stage.inputs) || !same(s.outputs, stage.outputs)) {
      throw new EngineContractError(
        `${stage.file}: graph has inputs [${s.inputs}] outputs [${s.outputs}], manifest says [${stage.inputs}] -> [${stage.outputs}]`,
      );
    }
  });
}
