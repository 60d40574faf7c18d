import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { loadManifest } from "../../src/format/manifest.js";
import type { ClassifyRequest } from "../../src/generated/ranet/v1/ClassifyRequest.js";
import { FMNIST_DIR, loadFashionMnist, tensorBytesOf } from "../support/fashionMnist.js";
import { MODEL_DIR } from "../support/fixtures.js";
import { type OpenLoopResult, runLoad, runOpenLoop } from "../support/loadgen.js";
import { LOOPBACK_FLAGS, type SpawnedServer, spawnServer } from "../support/serverProcess.js";

const MAX_QUEUE_WAIT_MS = 100;
const MAX_QUEUE_DELAY_MS = 2;
const OVERLOAD_SECONDS = 8;

/** Admitted requests that left unanswered (cancelled or past their deadline), from /metrics. */
async function dropped(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return [...text.matchAll(/^ranet_dropped_total\{reason="\w+"\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

// Budget target 1: every image runs to the last exit unless very confident, the costliest traffic.
describe.runIf(existsSync(FMNIST_DIR))("overload at twice the measured capacity", () => {
  let request: (i: number) => ClassifyRequest;
  let server: SpawnedServer | undefined;
  beforeAll(async () => {
    const manifest = await loadManifest(MODEL_DIR);
    const set = loadFashionMnist("test");
    const bytes = tensorBytesOf(set, 2000, manifest.input);
    request = (i) => ({ tensor: { shape: [1, 28, 28], data: bytes[i % bytes.length] } });
  });
  afterEach(() => server?.stop());

  /**
   * Starts a server, measures its capacity (closed loop), then offers twice that for
   * OVERLOAD_SECONDS over 16 streams (each stream is flow-controlled at maxStreamInflight, so
   * the overload is the server's as a whole, as from many clients).
   */
  async function overload(flags: string[], during?: (adminAddress: string) => Promise<void>) {
    server = spawnServer([
      ...LOOPBACK_FLAGS,
      "--model-dir",
      MODEL_DIR,
      "--budget-target",
      "1",
      "--max-queue-wait-ms",
      String(MAX_QUEUE_WAIT_MS),
      "--max-queue-delay-ms",
      String(MAX_QUEUE_DELAY_MS),
      ...flags,
    ]);
    const serving = await server.serving;
    const address = `127.0.0.1:${serving.grpcPort}`;
    const adminAddress = `127.0.0.1:${serving.adminPort}`;
    const capacity = await runLoad({ address, concurrency: 64, api: "stream", durationMs: 4000, warmupMs: 1000, request });
    const droppedBefore = await dropped(serving.metricsPort!);
    const [load] = await Promise.all([
      runOpenLoop({ address, rate: 2 * capacity.throughput, durationMs: OVERLOAD_SECONDS * 1000, streams: 16, request }),
      during?.(adminAddress),
    ]);
    const droppedAfter = await dropped(serving.metricsPort!);
    return { address, adminAddress, capacity: capacity.throughput, load, droppedAdmitted: droppedAfter - droppedBefore };
  }

  function report(name: string, r: Awaited<ReturnType<typeof overload>>): void {
    const l = r.load;
    const shed = l.codes.RESOURCE_EXHAUSTED ?? 0;
    console.log(
      `${name}: capacity ${r.capacity.toFixed(0)}/s, offered ${l.sentPerSecond.toFixed(0)}/s for ${OVERLOAD_SECONDS} s: ` +
        `${l.sent} sent, ${l.codes.OK ?? 0} OK (mean ${(l.okMeanFlops / 1e6).toFixed(2)} MMACs), ${shed} RESOURCE_EXHAUSTED (${((100 * shed) / l.sent).toFixed(1)}%), ${l.unanswered} unanswered; ` +
        `OK latency p50 ${l.okLatencyMs.p50.toFixed(0)} ms, p99 ${l.okLatencyMs.p99.toFixed(0)} ms, max ${l.okLatencyMs.max.toFixed(0)} ms; ` +
        `p99 by second ${l.okP99BySecondMs.map((x) => x.toFixed(0)).join(" ")} (latency is reported, not asserted: npm run bench:overload measures it)`,
    );
  }

  /**
   * What holds in every overload run, however busy the machine: only OK or RESOURCE_EXHAUSTED,
   * nothing unanswered, nothing admitted dropped. Rates, goodput and latency are printed and
   * measured by `npm run bench:overload`, not asserted.
   */
  function expectShedNotLost(r: Awaited<ReturnType<typeof overload>>, l: OpenLoopResult): void {
    expect(l.unanswered).toBe(0);
    expect(Object.keys(l.codes).every((c) => c === "OK" || c === "RESOURCE_EXHAUSTED")).toBe(true);
    expect((l.codes.OK ?? 0) + (l.codes.RESOURCE_EXHAUSTED ?? 0)).toBe(l.sent);
    expect(r.droppedAdmitted).toBe(0); // nothing admitted was cancelled or timed out
  }

  it("sheds at admission with RESOURCE_EXHAUSTED and answers every admitted request", async () => {
    const r = await overload([]);
    report("overload", r);
    expectShedNotLost(r, r.load);
    expect(r.load.codes.RESOURCE_EXHAUSTED ?? 0).toBeGreaterThan(0); // overload is refused at admission, not queued
  });

  it("load-adaptive mode lowers the FLOPs target under the long queue and restores it after", async () => {
    const factors: number[] = [];
    const r = await overload(["--load-adaptive", "true"], async (adminAddress) => {
      const c = makeClients(adminAddress, {}, undefined, adminAddress);
      for (let s = 0; s < OVERLOAD_SECONDS; s++) {
        await new Promise((res) => setTimeout(res, 1000));
        factors.push((await unary(c.budget, "GetBudget", {})).load_factor);
      }
      c.close();
    });
    report("overload, load-adaptive", r);
    console.log(`load factor each second: ${factors.map((f) => f.toFixed(2)).join(" ")}`);
    expectShedNotLost(r, r.load);
    expect(Math.min(...factors)).toBeLessThan(1); // the target in force fell under the long queue
    const c = makeClients(r.address, {}, undefined, r.adminAddress);
    const end = Date.now() + 10_000;
    let factor = 0;
    for (;;) {
      factor = (await unary(c.budget, "GetBudget", {})).load_factor;
      if (factor >= 1 || Date.now() >= end) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    c.close();
    expect(factor).toBe(1); // idle again: the operator's target is back
  });
});
