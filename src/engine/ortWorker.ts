/**
 * Worker-thread side of OrtEngine: holds one onnxruntime InferenceSession per stage and runs
 * stage batches off the main thread (onnxruntime-node's session.run computes synchronously on
 * the calling thread, so in the main thread it would stall gRPC I/O and admission).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { HostTensor } from "./StageRunner.js";
import { ownsBuffer, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

const setup = workerData as WorkerSetup;
const port = parentPort!;
const sessions: ort.InferenceSession[] = [];

const post = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function load(): Promise<void> {
  for (const file of setup.files) {
    try {
      sessions.push(
        await ort.InferenceSession.create(file, {
          executionProviders: [setup.executionProvider],
          ...(setup.intraOpThreads ? { intraOpNumThreads: setup.intraOpThreads } : {}),
          ...(setup.interOpThreads ? { interOpNumThreads: setup.interOpThreads } : {}),
          graphOptimizationLevel: "all",
        }),
      );
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      post({ type: "failed", message: `cannot load stage ${file} with the ${setup.executionProvider} execution provider: ${(err as Error).message}` });
      return;
    }
  }
  post({ type: "ready", signatures: sessions.map((s) => ({ inputs: [...s.inputNames], outputs: [...s.outputNames] })) });
}

async function run(id: number, stage: number, feeds: Record<string, HostTensor>): Promise<void> {
  try {
    const session = sessions[stage];
    if (!session) throw new Error(`no stage ${stage + 1}`);
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

/** Messages are handled one at a time, in order: a release never overtakes a run. */
let chain = Promise.resolve();
port.on("message", (msg: WorkerRequest) => {
  if (msg.type === "run") chain = chain.then(() => run(msg.id, msg.stage, msg.feeds));
  else if (msg.type === "release") {
    chain = chain
      .then(() =>
        Promise.all(sessions.map((s) => s.release())).then(
          () => {},
          () => {},
        ),
      )
      .then(() => post({ type: "released" }));
  }
});

void load();
