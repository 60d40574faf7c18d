/** Messages between OrtEngine (main thread) and its ortWorker threads. */
import type { HostTensor } from "./StageRunner.js";

/** Whether a tensor's data spans its whole ArrayBuffer, so the buffer can be transferred as is. */
export function ownsBuffer(data: Float32Array): boolean {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
}

/** workerData of an ortWorker: what to load, and how. */
export interface WorkerSetup {
  /** Stage files in stage order. */
  files: string[];
  executionProvider: string;
  intraOpThreads: number;
  interOpThreads: number;
}

export type WorkerRequest = { type: "run"; id: number; stage: number; feeds: Record<string, HostTensor> } | { type: "release" };

export type WorkerReply =
  | { type: "ready"; signatures: { inputs: string[]; outputs: string[] }[] }
  | { type: "failed"; message: string }
  | { type: "result"; id: number; outputs: Record<string, HostTensor> }
  | { type: "error"; id: number; message: string }
  | { type: "released" };
