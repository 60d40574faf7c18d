import type { CounterCell } from "./CounterCells.js";
import type { Metrics } from "./Metrics.js";

/** The protocols a call comes by (the `protocol` label). */
export type Protocol = "grpc" | "rest";

/** Refusals at admission: counted, but kept out of the latency histogram (they answer fast and would flatter it). */
const REFUSALS = new Set(["RESOURCE_EXHAUSTED", "UNAVAILABLE"]);

/** One method's series by one protocol: its latency histogram's labels, and its ranet_requests_total cell per code. */
interface CallSeries {
  labels: { method: string; protocol: Protocol };
  byCode: Map<string, CounterCell>;
}

/** Per registry, per protocol and method: made at a method's first call, so a call allocates no label objects. */
const seriesOf = new WeakMap<Metrics, Map<string, Map<string, CallSeries>>>();

function callSeries(metrics: Metrics, method: string, protocol: Protocol): CallSeries {
  let byProtocol = seriesOf.get(metrics);
  if (!byProtocol) seriesOf.set(metrics, (byProtocol = new Map()));
  let byMethod = byProtocol.get(protocol);
  if (!byMethod) byProtocol.set(protocol, (byMethod = new Map()));
  let series = byMethod.get(method);
  if (!series) byMethod.set(method, (series = { labels: { method, protocol }, byCode: new Map() }));
  return series;
}

/** Starts timing a call of `method` by `protocol`; the returned function records its end with its gRPC code name. */
export function callTimer(metrics: Metrics, method: string, protocol: Protocol): (code: string) => void {
  const t0 = performance.now();
  return (code) => {
    const series = callSeries(metrics, method, protocol);
    if (!REFUSALS.has(code)) metrics.requestDuration.observe(series.labels, (performance.now() - t0) / 1000);
    let cell = series.byCode.get(code);
    if (!cell) series.byCode.set(code, (cell = metrics.requestCells.cell({ method, code, protocol })));
    cell.value++;
  };
}
