import type { Logger } from "pino";
import type { Clock } from "../core/Clock.js";
import type { SchedulerLoop } from "../scheduler/SchedulerLoop.js";
import type { DecidedExit } from "../scoring/exitDecision.js";
import type { ExitScorer } from "../scoring/exitScorers.js";
import type { ExitPolicy } from "./ExitPolicy.js";
import type { InferenceStatistics } from "./InferenceStatistics.js";

/** What the pipeline needs to know of a staged model (from its manifest). */
export interface PipelineModel {
  inputName: string;
  inputShape: readonly number[];
  stages: readonly { inputs: readonly string[]; outputs: readonly string[] }[];
  /** Cumulative multiply-adds per exit. */
  exitFlops: readonly number[];
  classes: number;
  /** The whole network as one graph (the engine's session after the stages), for requests that must reach the last exit. */
  fused?: { inputs: readonly string[]; outputs: readonly string[] };
}

export interface PipelineOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** An idle engine worker takes what waits at once, full batch or not (default true). */
  dispatchWhenIdle?: boolean;
  /**
   * The scheduler the pipeline's queues join (the server's, shared by every model and its engine
   * workers) and the model key its batches count under there; default: a scheduler of its own
   * with one worker slot, which runs one batch at a time on worker 0.
   */
  scheduling?: { loop: SchedulerLoop; model: string };
  /** Admission bound of the first stage's queue; later stages never drop admitted work. */
  maxQueueSize: number;
  /** Admission bound per priority level (index level - 1), within maxQueueSize; empty: none. */
  maxQueueSizeByLevel?: readonly number[];
  /** Admission bound on queueing time: a request is refused when estimatedWaitMs() exceeds it. 0 = off. */
  maxQueueWaitMs?: number;
  /** While a higher priority level is active, lower levels' requests fill a batch only up to this many (QueueSpec.yieldBatchSize); 0 or undefined: no limit. */
  yieldBatchSize?: number;
  /** Lower priority levels yield to higher ones while the event loop is busier than maxUtilization (EntryAdmission); undefined: never. */
  yieldToHigherLevels?: { maxUtilization: number; utilization: () => number };
  clock: Clock;
  log: Logger;
  hooks?: PipelineHooks;
  /** Request statistics: the pipeline records its entry batches (stage 1's and the fused graph's). */
  stats?: InferenceStatistics;
  /** Turns an exit's logits into the answered probabilities (default: plain softmax). */
  scorer?: ExitScorer;
  /**
   * Whether the engine decides the exits after the first (when the runner can): a batch of the
   * second stage without anytime requests runs through the stages its requests need in the
   * worker that keeps their tensors, and only the answers come back; its decisions reach the exit
   * policies afterwards, in order. true: every such batch; "auto" (the server's default): a batch
   * whose policies all allow it now (ExitPolicy.engineMayDecide) and that has the engine to itself
   * (Scheduler.sharesEngine); false (when unset): every stage batch comes back to be decided here.
   */
  decideInEngine?: boolean | "auto";
}

/** Observability callbacks (metrics live outside the pipeline). */
export interface PipelineHooks {
  batchRun?(stage: number, size: number, seconds: number): void;
  queueDepth?(stage: number, depth: number): void;
  /** An answer from `exit`; `tenant` is the request's configured tenant (RequestOptions.tenant). */
  exitTaken?(exit: number, flops: number, tenant?: string): void;
  dropped?(reason: "cancelled" | "deadline" | "queue_timeout"): void;
}

export interface RequestOptions {
  /** Anytime budget: deepest exit whose cumulative FLOPs fit. */
  flopsBudget?: number;
  /** 0-based exit to answer from regardless of confidence. */
  fixedExit?: number;
  returnAllExits?: boolean;
  /** On deadline, answer with the deepest computed exit instead of failing. */
  anytime?: boolean;
  /** Absolute deadline on the pipeline clock. */
  deadlineMs?: number;
  /** Priority level, 1 = highest (Classifier.options resolves the default); absent: priorities off. */
  priority?: number;
  /** How long it may wait for the first stage (its level's queue timeout), in ms; then `queueTimeoutAction`. */
  queueTimeoutMs?: number;
  /** reject: answered UNAVAILABLE; delay: kept, scheduled after every request that has not timed out. */
  queueTimeoutAction?: "reject" | "delay";
  /** The exit policy (budget) the request is held to: its tenant's; absent: the model's. */
  policy?: ExitPolicy;
  /** The request's tenant if it is a configured one (metrics label it; others count as "other"). */
  tenant?: string;
  /** The share of the entry queue (of maxQueueSize) its tenant's requests may hold. */
  tenantQueueShare?: number;
}

export type ExitReason = DecidedExit | "deadline";

/** One exit's answer: the scored prediction (the exit scoring rule's), and the exit's own (its logits alone). */
export interface ExitPrediction {
  exit: number; // 0-based
  classIndex: number;
  confidence: number;
  flops: number;
  ownClassIndex: number;
  ownConfidence: number;
}

export interface ClassifyResult extends ExitPrediction {
  probabilities: Float32Array;
  reason: ExitReason;
  exits: ExitPrediction[];
  /** Time the sample waited in stage queues, and spent in stage runs (its batches'), in ms. */
  queueMs: number;
  computeMs: number;
}

export interface Submission {
  result: Promise<ClassifyResult>;
  /** Withdraws the request: it leaves its queue and its tensors are freed. */
  cancel(): void;
}
