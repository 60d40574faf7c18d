import { makeClients, unary } from "../../src/cli/clients.js";

export interface LoadResult {
  requests: number;
  errors: Record<string, number>;
  seconds: number;
  throughput: number;
  meanFlops: number;
  latencyMs: { p50: number; p95: number; p99: number };
  exits: number[];
}

export interface LoadOptions {
  address: string;
  concurrency: number;
  /** unary Classify calls, or requests multiplexed on ClassifyStream streams (4 streams). */
  api?: "unary" | "stream";
  durationMs: number;
  warmupMs?: number;
  /** Builds request i (the body of ranet.v1 ClassifyRequest). */
  request: (i: number) => unknown;
}

/** Closed-loop load: `concurrency` callers each send the next unary Classify when the last returns. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const c = makeClients(o.address);
  let i = 0;
  const record = { on: false, n: 0, flops: 0, lat: [] as number[], errors: {} as Record<string, number>, exits: [] as number[] };
  let stop = false;
  const recordAnswer = (res: { flops: number; exit: number; error?: { code: number } | null }, t0: number) => {
    if (!record.on) return;
    if (res.error) {
      record.errors[String(res.error.code)] = (record.errors[String(res.error.code)] ?? 0) + 1;
      return;
    }
    record.n++;
    record.flops += res.flops;
    record.lat.push(performance.now() - t0);
    record.exits[res.exit - 1] = (record.exits[res.exit - 1] ?? 0) + 1;
  };
  const streamWorker = (inflight: number) =>
    new Promise<void>((resolve, reject) => {
      const call = c.classifier.ClassifyStream();
      const sent = new Map<string, number>();
      const send = () => {
        const id = String(i);
        sent.set(id, performance.now());
        call.write({ ...(o.request(i++) as object), request_id: id });
      };
      call.on("data", (res: { request_id: string; flops: number; exit: number; error?: { code: number } | null }) => {
        recordAnswer(res, sent.get(res.request_id)!);
        sent.delete(res.request_id);
        if (!stop) send();
        else if (sent.size === 0) call.end();
      });
      call.on("end", resolve);
      call.on("error", reject);
      for (let k = 0; k < inflight; k++) send();
    });
  const worker = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const res = await unary(c.classifier, "Classify", o.request(i++), 30_000);
        if (record.on) {
          record.n++;
          record.flops += res.flops;
          record.lat.push(performance.now() - t0);
          record.exits[res.exit - 1] = (record.exits[res.exit - 1] ?? 0) + 1;
        }
      } catch (err) {
        const code = String((err as { code?: number }).code ?? "?");
        if (record.on) record.errors[code] = (record.errors[code] ?? 0) + 1;
      }
    }
  };
  const STREAMS = 4;
  const workers =
    o.api === "stream"
      ? Array.from({ length: STREAMS }, (_, k) => streamWorker(Math.floor(o.concurrency / STREAMS) + (k < o.concurrency % STREAMS ? 1 : 0)))
      : Array.from({ length: o.concurrency }, worker);
  await new Promise((r) => setTimeout(r, o.warmupMs ?? 1500));
  record.on = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  record.on = false;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  c.close();
  const lat = record.lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return {
    requests: record.n,
    errors: record.errors,
    seconds,
    throughput: record.n / seconds,
    meanFlops: record.flops / Math.max(1, record.n),
    latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99) },
    exits: Array.from(record.exits, (x) => x ?? 0),
  };
}
