import type { BucketCounts } from "./BucketCounts.js";
import type { CounterCell } from "./MetricCells.js";
import type { Metrics } from "./Metrics.js";

/** The protocols a call comes by (the `protocol` label). */
export type Protocol = "grpc" | "rest";

/** Refusals at admission: counted, but kept out of the latency histogram (they answer fast and would flatter it). */
const REFUSALS = new Set(["RESOURCE_EXHAUSTED", "UNAVAILABLE"]);

/** One method's series by one protocol: its latency histogram's series, and its ranet_requests_total cell per code. */
interface CallSeries {
  duration: BucketCounts;
  byCode: Map<string, CounterCell>;
}

/** Per registry, per protocol and method: made at a method's first call, so a call allocates no label objects and hashes no labels. */
const seriesOf = new WeakMap<Metrics, Map<string, Map<string, CallSeries>>>();

function callSeries(metrics: Metrics, method: string, protocol: Protocol): CallSeries {
  const byProtocol = had(seriesOf, metrics, newMap<string, Map<string, CallSeries>>);
  const byMethod = had(byProtocol, protocol, newMap<string, CallSeries>);
  const series = byMethod.get(method);
  if (series) return series;
  const made: CallSeries = { duration: metrics.requestDuration.cell({ method, protocol }), byCode: new Map() };
  byMethod.set(method, made);
  return made;
}

const newMap = <K, V>() => new Map<K, V>();

/** `map`'s value of `key`, made and kept at the first ask. */
function had<K extends object | string, V>(map: Map<K, V> | WeakMap<K & object, V>, key: K, make: () => V): V {
  let v = (map as Map<K, V>).get(key);
  if (v === undefined) {
    v = make();
    (map as Map<K, V>).set(key, v);
  }
  return v;
}

/** Starts timing a call of `method` by `protocol`; the returned function records its end with its gRPC code name. */
export function callTimer(metrics: Metrics, method: string, protocol: Protocol): (code: string) => void {
  const t0 = performance.now();
  return (code) => {
    const series = callSeries(metrics, method, protocol);
    if (!REFUSALS.has(code)) series.duration.observe((performance.now() - t0) / 1000);
    let cell = series.byCode.get(code);
    if (cell === undefined) {
      cell = metrics.requestCells.cell({ method, code, protocol });
      series.byCode.set(code, cell);
    }
    cell.value++;
  };
}
