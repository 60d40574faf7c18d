import type { Metrics } from "./Metrics.js";

/** The protocols a call comes by (the `protocol` label). */
export type Protocol = "grpc" | "rest";

/** Refusals at admission: counted, but kept out of the latency histogram (they answer fast and would flatter it). */
const REFUSALS = new Set(["RESOURCE_EXHAUSTED", "UNAVAILABLE"]);

/** Starts timing a call of `method` by `protocol`; the returned function records its end with its gRPC code name. */
export function callTimer(metrics: Metrics, method: string, protocol: Protocol): (code: string) => void {
  const t0 = performance.now();
  return (code) => {
    if (!REFUSALS.has(code)) metrics.requestDuration.observe({ method, protocol }, (performance.now() - t0) / 1000);
    metrics.requests.inc({ method, code, protocol });
  };
}
