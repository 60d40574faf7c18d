import type { Metrics } from "../metrics/Metrics.js";
import { status } from "@grpc/grpc-js";

/** Starts timing a call; the returned function records its end with the gRPC status code. */
export type CallObserver = (method: string) => (code: status) => void;

export function metricsObserver(metrics: Metrics): CallObserver {
  return (method) => {
    const end = metrics.requestDuration.startTimer({ method });
    return (code) => {
      end();
      metrics.requests.inc({ method, code: status[code] ?? String(code) });
    };
  };
}
