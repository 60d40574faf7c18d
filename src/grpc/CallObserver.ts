import { status } from "@grpc/grpc-js";
import { callTimer } from "../metrics/callTimer.js";
import type { Metrics } from "../metrics/Metrics.js";

/** Starts timing a call; the returned function records its end with the gRPC status code. */
export type CallObserver = (method: string) => (code: status) => void;

export function metricsObserver(metrics: Metrics): CallObserver {
  return (method) => {
    const done = callTimer(metrics, method, "grpc");
    return (code) => done(status[code] ?? String(code));
  };
}
