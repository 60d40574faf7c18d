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
  const workers = Array.from({ length: o.concurrency }, worker);
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
