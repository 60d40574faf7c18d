import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { HostTensor } from "./StageRunner.js";
import { ownsBuffer, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

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

/** One worker thread with its stage sessions; runs are answered by id. */
export class StageWorker {
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
    const wire: Record<string, HostTensor> = {};
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
