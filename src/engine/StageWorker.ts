import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { EngineWorkerStopped, type HostTensor } from "./StageRunner.js";
import type { ChainAnswers, ChainModel, ChainRules } from "./stageChain.js";
import { type KeptRows, type ModelSessions, ownsBuffer, type Signature, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

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

/** How long stop() waits for a worker to release its sessions before terminating it. */
const STOP_TIMEOUT_MS = 30_000;
/** Freed blocks wait for the next run message to ride along; past this many they go in a message of their own. */
const FREE_BATCH = 64;

type Pending = { resolve(reply: WorkerReply): void; reject(e: Error): void; run: boolean };

/** One worker thread holding the stage sessions of any number of models; requests are answered by id. */
export class StageWorker {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** Stage runs handed over and not answered yet. */
  private runs = 0;
  private stopping = false;
  /** Kept blocks nothing reads any more, sent with the next run (or on their own past FREE_BATCH). */
  private freed: number[] = [];
  /** The models whose chain description this worker has. */
  private readonly chainsKnown = new Set<string>();
  alive = true;
  onDeath: (reason: string) => void = () => {};
  /** The thread's id in the kernel (Linux), as it reported when ready. */
  readonly tid: number | undefined;
  /** Why the thread runs under the normal scheduling policy though its setup asked for SCHED_BATCH; undefined otherwise. */
  readonly batchSchedulingFailed: string | undefined;

  private constructor(
    private readonly worker: Worker,
    ready: Extract<WorkerReply, { type: "ready" }>,
  ) {
    this.tid = ready.tid;
    this.batchSchedulingFailed = ready.batchSchedulingFailed;
    worker.on("message", (msg: WorkerReply) => {
      if (!("id" in msg)) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (p.run) this.runs--;
      if (msg.type === "error") p.reject(new Error(msg.message));
      else p.resolve(msg);
    });
    const die = (reason: string) => {
      if (!this.alive) return;
      this.alive = false;
      for (const p of this.pending.values()) p.reject(new EngineWorkerStopped(`engine worker stopped: ${reason}`));
      this.pending.clear();
      this.runs = 0;
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
        if (msg.type === "ready") resolve(new StageWorker(worker, msg));
        else fail(new Error(`unexpected first message ${msg.type} from an engine worker`));
      });
    });
  }

  /** Stage batches handed over and not answered yet. */
  get outstanding(): number {
    return this.runs;
  }

  private request(msg: WorkerRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (!this.alive) return Promise.reject(new EngineWorkerStopped("engine worker stopped"));
    return new Promise((resolve, reject) => {
      const run = msg.type === "run" || msg.type === "chain";
      if (run) this.runs++;
      this.pending.set(msg.id, { resolve, reject, run });
      this.worker.postMessage(msg, transfer);
    });
  }

  /** Creates the sessions of `model` (replacing any it had); resolves with each session's input and output names. */
  async load(model: string, sessions: ModelSessions): Promise<Signature[]> {
    const reply = await this.request({ type: "load", id: ++this.seq, model, sessions });
    if (reply.type !== "loaded") throw new Error(`engine worker answered a load with '${reply.type}'`);
    return reply.signatures;
  }

  /** Releases the sessions of `model` (after the runs handed over before). */
  async unload(model: string): Promise<void> {
    this.chainsKnown.delete(model);
    await this.request({ type: "unload", id: ++this.seq, model });
  }

  /**
   * Runs a stage batch: `feeds` from here, `kept` rows of blocks this worker holds; outputs named
   * in `keep` stay in the worker as a new block (its id in the answer), the others come back.
   */
  async run(
    model: string,
    stage: number,
    feeds: Record<string, HostTensor>,
    transferInputs: boolean,
    kept?: KeptRows,
    keep?: string[],
  ): Promise<{ outputs: Record<string, HostTensor>; block?: number }> {
    const { wire, transfer } = wireFeeds(feeds, transferInputs);
    const free = this.freed.length ? this.freed.splice(0) : undefined;
    const reply = await this.request({ type: "run", id: ++this.seq, model, stage, feeds: wire, kept, keep, free }, transfer);
    if (reply.type !== "result") throw new Error(`engine worker answered a stage run with '${reply.type}'`);
    return { outputs: reply.outputs, block: reply.block };
  }

  /** Runs a stage batch of `model` through the stages its samples need, deciding their exits there (stageChain.ts); `feeds` and `kept` as in run. */
  async chain(
    model: string,
    setup: ChainModel,
    worker: number,
    feeds: Record<string, HostTensor>,
    kept: KeptRows | undefined,
    rules: ChainRules,
    transferInputs: boolean,
  ): Promise<ChainAnswers> {
    const { wire, transfer } = wireFeeds(feeds, transferInputs);
    const known = this.chainsKnown.has(model);
    this.chainsKnown.add(model);
    const free = this.freed.length ? this.freed.splice(0) : undefined;
    const reply = await this.request(
      { type: "chain", id: ++this.seq, model, worker, feeds: wire, kept, rules, setup: known ? undefined : setup, free },
      transfer,
    );
    if (reply.type !== "chained") throw new Error(`engine worker answered a chain with '${reply.type}'`);
    return { answers: reply.answers, stages: reply.stages };
  }

  /** Block `id` is read no more: freed with the next run (the worker handles messages in order, so after every run handed over before). */
  free(id: number): void {
    if (!this.alive) return;
    this.freed.push(id);
    if (this.freed.length >= FREE_BATCH) this.worker.postMessage({ type: "free", blocks: this.freed.splice(0) } satisfies WorkerRequest);
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

/** Feeds as a message carries them, and the buffers it may transfer (when the caller hands them over). */
function wireFeeds(feeds: Record<string, HostTensor>, transferInputs: boolean): { wire: Record<string, HostTensor>; transfer: ArrayBuffer[] } {
  const wire: Record<string, HostTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, t] of Object.entries(feeds)) {
    wire[name] = { data: t.data, dims: [...t.dims] };
    if (transferInputs && ownsBuffer(t.data)) transfer.push(t.data.buffer as ArrayBuffer);
  }
  return { wire, transfer };
}
