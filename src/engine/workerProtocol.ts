/** Messages between EnginePool (main thread) and its ortWorker threads. */

import type { HostTensor } from "./StageRunner.js";
import type { ChainModel, ChainRules } from "./stageChain.js";

/** Whether a tensor's data spans its whole ArrayBuffer, so the buffer can be transferred as is. */
export function ownsBuffer(data: Float32Array): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
}

/** workerData of an ortWorker: how it creates sessions (which models it holds comes by message). */
export interface WorkerSetup {
  intraOpThreads: number;
  interOpThreads: number;
  /** Whether the worker thread puts itself under SCHED_BATCH (batchSchedulingPolicy.ts). */
  batchScheduling: boolean;
}

/** A model's sessions in a worker: its graph files in session order, on one execution provider. */
export interface ModelSessions {
  files: string[];
  executionProvider: string;
}

export type WorkerRequest =
  | { type: "load"; id: number; model: string; sessions: ModelSessions }
  | { type: "unload"; id: number; model: string }
  | {
      type: "run";
      id: number;
      model: string;
      stage: number;
      feeds: Record<string, HostTensor>;
      /** Inputs kept in this worker: each sample's block id and row for every named input. */
      kept?: KeptRows;
      /** Outputs to keep here as a new block (its id comes back) instead of sending them. */
      keep?: string[];
      /** Blocks nothing reads any more: freed before this run. */
      free?: number[];
    }
  | {
      /** Runs a stage-1 batch through the stages its samples need (stageChain.ts); answered "chained". */
      type: "chain";
      id: number;
      model: string;
      /** The worker's index in its pool (its counters on the ThresholdBoard). */
      worker: number;
      feeds: Record<string, HostTensor>;
      /** Inputs kept in this worker, as in "run". */
      kept?: KeptRows;
      rules: ChainRules;
      /** The model's chain description, with the first chain of `model` a worker gets. */
      setup?: ChainModel;
      free?: number[];
    }
  | { type: "free"; blocks: number[] }
  | { type: "release" };

/**
 * Rows of kept blocks for the inputs `names`, in one array (each typed array in a message costs
 * its own clone): for name i and sample j of a batch of n, `at[2 * (i * n + j)]` is the block id
 * and `at[2 * (i * n + j) + 1]` the row.
 */
export interface KeptRows {
  names: string[];
  at: Int32Array;
}

export type Signature = { inputs: string[]; outputs: string[] };

export type WorkerReply =
  | {
      type: "ready";
      /** The worker thread's id in the kernel (Linux). */
      tid?: number;
      /** With setup.batchScheduling: why the thread could not be put under SCHED_BATCH (undefined: it is). */
      batchSchedulingFailed?: string;
    }
  | { type: "loaded"; id: number; signatures: Signature[] }
  | { type: "unloaded"; id: number }
  | { type: "result"; id: number; outputs: Record<string, HostTensor>; block?: number }
  | { type: "chained"; id: number; answers: HostTensor; stages: HostTensor }
  | { type: "error"; id: number; message: string }
  | { type: "released" };
