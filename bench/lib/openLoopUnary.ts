import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface OpenLoopUnaryArgs {
  port: number;
  client: "node-http2" | "grpc-js";
  ratePerS: number;
  seconds: number;
  connections: number;
  modelDir: string;
  /** ClassifyOptions.exit (1-based), 0 = adaptive. */
  exit: number;
  /** ClassifyRequest.model (default: the server's default model). */
  model?: string;
  /** ClassifyOptions.priority (default 0: the model's default level). */
  priority?: number;
  /**
   * When to send the first request (epoch ms), once the client has loaded and connected: clients
   * given the same time start together, their processes' start-up (loading under tsx, compiling,
   * connecting: a core's worth for about a second on the 2-core machine) outside the measured
   * window. Default: at once.
   */
  startAtMs?: number;
}

/** Time enough for a client process to load and connect before a shared startAtMs, on a loaded 2-core machine. */
export const CLIENT_START_MS = 4000;

/** A start time CLIENT_START_MS from now, for clients that must start together (see startAtMs). */
export function commonStart(): number {
  return Date.now() + CLIENT_START_MS;
}

export interface OpenLoopUnaryResult {
  sent: number;
  sentPerS: number;
  /** Answers by gRPC status code number ("0" = OK). */
  codes: Record<string, number>;
  unanswered: number;
  okMs: { p50: number; p99: number; max: number };
  /** p99 latency of the OK answers by the second they were sent in, ms. */
  okP99BySecondMs: number[];
  /** p99 latency of the OK answers to the requests sent in the second half of the run (past a load's start-up), ms. */
  okSecondHalfP99Ms: number;
  /** How late the client was ready for startAtMs (0: on time; it then starts at once), ms. */
  startedLateMs: number;
  /** CPU seconds the client used per second of sending, and its event-loop utilisation. */
  clientCpuPerS: number;
  clientEventLoopUtilization: number;
}

/** "p99 over the whole run / over its second half", ms, with `digits` decimals. */
export function p99WholeAndSecondHalf(r: OpenLoopUnaryResult, digits: number): string {
  return `${r.okMs.p99.toFixed(digits)} / ${r.okSecondHalfP99Ms.toFixed(digits)}`;
}

/** Runs the open-loop unary client (openLoopUnaryClient.ts) in its own process and resolves with what it measured. */
export async function runOpenLoopUnary(args: OpenLoopUnaryArgs): Promise<OpenLoopUnaryResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "bench/lib/openLoopUnaryClient.ts", JSON.stringify(args)], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as OpenLoopUnaryResult;
}
