/**
 * Worker-thread side of EnginePool: holds one onnxruntime InferenceSession per stage of every
 * model it was asked to load, and runs stage batches off the main thread (onnxruntime-node's
 * session.run computes synchronously on the calling thread, so in the main thread it would stall
 * gRPC I/O and admission).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { HostTensor } from "./StageRunner.js";
import { type ModelSessions, ownsBuffer, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

const setup = workerData as WorkerSetup;
const port = parentPort!;
const models = new Map<string, ort.InferenceSession[]>();

const post = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const releaseAll = (sessions: ort.InferenceSession[]) =>
  Promise.all(sessions.map((s) => s.release())).then(
    () => {},
    () => {},
  );

async function load(id: number, model: string, spec: ModelSessions): Promise<void> {
  const sessions: ort.InferenceSession[] = [];
  for (const file of spec.files) {
    try {
      sessions.push(
        await ort.InferenceSession.create(file, {
          executionProviders: [spec.executionProvider],
          ...(setup.intraOpThreads ? { intraOpNumThreads: setup.intraOpThreads } : {}),
          ...(setup.interOpThreads ? { interOpNumThreads: setup.interOpThreads } : {}),
          graphOptimizationLevel: "all",
        }),
      );
    } catch (err) {
      await releaseAll(sessions);
      post({ type: "error", id, message: `cannot load stage ${file} with the ${spec.executionProvider} execution provider: ${(err as Error).message}` });
      return;
    }
  }
  const previous = models.get(model);
  models.set(model, sessions);
  if (previous) await releaseAll(previous);
  post({ type: "loaded", id, signatures: sessions.map((s) => ({ inputs: [...s.inputNames], outputs: [...s.outputNames] })) });
}

async function run(id: number, model: string, stage: number, feeds: Record<string, HostTensor>): Promise<void> {
  try {
    const session = models.get(model)?.[stage];
    if (!session) throw new Error(`no stage ${stage + 1} of model ${model}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
    const out = await session.run(ortFeeds);
    const outputs: Record<string, HostTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(out)) {
      const out = t.data as Float32Array;
      const data = ownsBuffer(out) ? out : out.slice(); // a buffer of its own, to transfer
      outputs[name] = { data, dims: [...t.dims] };
      transfer.push(data.buffer as ArrayBuffer);
    }
    post({ type: "result", id, outputs }, transfer);
  } catch (err) {
    post({ type: "error", id, message: (err as Error).message });
  }
}

/** Messages are handled one at a time, in order: an unload or release never overtakes a run. */
let chain = Promise.resolve();
port.on("message", (msg: WorkerRequest) => {
  if (msg.type === "run") chain = chain.then(() => run(msg.id, msg.model, msg.stage, msg.feeds));
  else if (msg.type === "load") chain = chain.then(() => load(msg.id, msg.model, msg.sessions));
  else if (msg.type === "unload") {
    chain = chain.then(async () => {
      const sessions = models.get(msg.model) ?? [];
      models.delete(msg.model);
      await releaseAll(sessions);
      post({ type: "unloaded", id: msg.id });
    });
  } else if (msg.type === "release") {
    chain = chain.then(async () => {
      await releaseAll([...models.values()].flat());
      models.clear();
      post({ type: "released" });
    });
  }
});

post({ type: "ready" });
