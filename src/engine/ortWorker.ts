/**
 * Worker-thread side of EnginePool: holds one onnxruntime InferenceSession per stage of every
 * model it was asked to load, and runs stage batches off the main thread (onnxruntime-node's
 * session.run computes synchronously on the calling thread, so in the main thread it would stall
 * gRPC I/O and admission).
 */

import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { type ExitScorer, makeScorer } from "../scoring/exitScorers.js";
import { ownThreadId, useBatchSchedulingPolicy } from "./batchSchedulingPolicy.js";
import { KeptBlockStore } from "./KeptBlockStore.js";
import type { HostTensor } from "./StageRunner.js";
import { boardOf, type ChainModel, runChain } from "./stageChain.js";
import type { ThresholdBoard } from "./ThresholdBoard.js";
import { type KeptRows, type ModelSessions, ownsBuffer, type WorkerReply, type WorkerRequest, type WorkerSetup } from "./workerProtocol.js";

const setup = workerData as WorkerSetup;
const port = parentPort!;
const models = new Map<string, ort.InferenceSession[]>();
/** Outputs kept for later stages, by block id. */
const blocks = new KeptBlockStore();
/** Each model's chain description and scorer, from its first chain message. */
const chains = new Map<string, { model: ChainModel; scorer: ExitScorer; board: ThresholdBoard }>();

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

/** The batch tensor of kept input `i` (of `kept.names`), from its blocks' rows. */
function keptInput(kept: KeptRows, i: number): HostTensor {
  const n = kept.at.length / 2 / kept.names.length;
  const at = (j: number) => 2 * (i * n + j);
  return blocks.gather(
    kept.names[i]!,
    n,
    (j) => kept.at[at(j)]!,
    (j) => kept.at[at(j) + 1]!,
  );
}

async function run(msg: Extract<WorkerRequest, { type: "run" }>): Promise<void> {
  const { id, model, stage } = msg;
  try {
    for (const b of msg.free ?? []) blocks.delete(b);
    const session = models.get(model)?.[stage];
    if (!session) throw new Error(`no stage ${stage + 1} of model ${model}`);
    const out = await session.run(ortFeedsOf(messageFeeds(msg)));
    const outputs: Record<string, HostTensor> = {};
    const keptOut: Record<string, HostTensor> = {};
    const transfer: ArrayBuffer[] = [];
    const keep = new Set(msg.keep ?? []);
    for (const [name, t] of Object.entries(out)) {
      const data = t.data as Float32Array;
      if (keep.has(name)) {
        keptOut[name] = { data, dims: [...t.dims] };
        continue;
      }
      const own = ownsBuffer(data) ? data : data.slice(); // a buffer of its own, to transfer
      outputs[name] = { data: own, dims: [...t.dims] };
      transfer.push(own.buffer as ArrayBuffer);
    }
    post({ type: "result", id, outputs, block: keep.size > 0 ? blocks.put(model, keptOut) : undefined }, transfer);
  } catch (err) {
    post({ type: "error", id, message: (err as Error).message });
  }
}

/** A run's or chain's inputs: those the message carries and the kept rows it names. */
function messageFeeds(msg: { feeds: Record<string, HostTensor>; kept?: KeptRows }): Record<string, HostTensor> {
  const feeds = { ...msg.feeds };
  for (let i = 0; msg.kept && i < msg.kept.names.length; i++) feeds[msg.kept.names[i]!] = keptInput(msg.kept, i);
  return feeds;
}

/** Host tensors as onnxruntime feeds (their data not copied). */
function ortFeedsOf(feeds: Record<string, HostTensor>): Record<string, ort.Tensor> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
  return ortFeeds;
}

/** Onnxruntime's outputs as host tensors (their data as onnxruntime made it, not copied). */
function hostOutputs(out: ort.InferenceSession.OnnxValueMapType): Record<string, HostTensor> {
  const host: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(out)) host[name] = { data: t.data as Float32Array, dims: t.dims };
  return host;
}

async function chain(msg: Extract<WorkerRequest, { type: "chain" }>): Promise<void> {
  const { id, model } = msg;
  try {
    for (const b of msg.free ?? []) blocks.delete(b);
    if (msg.setup) chains.set(model, { model: msg.setup, scorer: makeScorer(msg.setup.scoreRule, msg.setup.temperatures), board: boardOf(msg.setup) });
    const sessions = models.get(model);
    const spec = chains.get(model);
    if (!sessions || !spec) throw new Error(`model ${model} is not loaded here${sessions ? " for chains" : ""}`);
    const runStage = async (k: number, feeds: Record<string, HostTensor>) => {
      const session = sessions[k];
      if (!session) throw new Error(`no stage ${k + 1} of model ${model}`);
      return hostOutputs(await session.run(ortFeedsOf(feeds)));
    };
    const r = await runChain(spec.model, spec.scorer, spec.board, msg.worker, messageFeeds(msg), msg.rules, runStage, () => performance.now());
    post({ type: "chained", id, ...r }, [r.answers.data.buffer as ArrayBuffer, r.stages.data.buffer as ArrayBuffer]);
  } catch (err) {
    post({ type: "error", id, message: (err as Error).message });
  }
}

/** Messages are handled one at a time, in order: an unload or release never overtakes a run. */
let queue = Promise.resolve();
port.on("message", (msg: WorkerRequest) => {
  if (msg.type === "run") queue = queue.then(() => run(msg));
  else if (msg.type === "chain") queue = queue.then(() => chain(msg));
  else if (msg.type === "free") {
    queue = queue.then(() => {
      for (const b of msg.blocks) blocks.delete(b);
    });
  } else if (msg.type === "load") queue = queue.then(() => load(msg.id, msg.model, msg.sessions));
  else if (msg.type === "unload") {
    queue = queue.then(async () => {
      const sessions = models.get(msg.model) ?? [];
      models.delete(msg.model);
      chains.delete(msg.model);
      blocks.deleteModel(msg.model);
      await releaseAll(sessions);
      post({ type: "unloaded", id: msg.id });
    });
  } else if (msg.type === "release") {
    queue = queue.then(async () => {
      await releaseAll([...models.values()].flat());
      models.clear();
      chains.clear();
      blocks.clear();
      post({ type: "released" });
    });
  }
});

const tid = ownThreadId();
post({ type: "ready", tid, batchSchedulingFailed: setup.batchScheduling ? useBatchSchedulingPolicy(tid) : undefined });
