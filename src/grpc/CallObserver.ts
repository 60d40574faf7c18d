import { status } from "@grpc/grpc-js";
import type { Metrics } from "../metrics/Metrics.js";

/** Starts timing a call; the returned function records its end with the gRPC status code. */
export type CallObserver = (method: string) => (code: status) => void;

/** Refusals at admission: counted, but kept out of the latency histogram (they answer fast and would flatter it). */
const REFUSALS = new Set([status.RESOURCE_EXHAUSTED, status.UNAVAILABLE]);

export function metricsObserver(metrics: Metrics): CallObserver {
  return (method) => {
    const t0 = performance.now();
    return (code) => {
      if (!REFUSALS.has(code)) metrics.requestDuration.observe({ method }, (performance.now() - t0) / 1000);
      metrics.requests.inc({ method, code: status[code] ?? String(code) });
    };
  };
}
