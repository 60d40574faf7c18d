import { once } from "node:events";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FMNIST_DIR, imageOf, loadFashionMnist, normalise } from "../../bench/lib/fashionMnist.js";
import { runLoad, runOpenLoop } from "../../bench/lib/loadgen.js";
import { spawnServer, type SpawnedServer } from "../../bench/lib/serverProcess.js";
import { loadManifest } from "../../src/engine/manifest.js";
import { MODEL_DIR } from "../helpers/fixtures.js";

const MAX_QUEUE_WAIT_MS = 100;
const MAX_QUEUE_DELAY_MS = 2;

/** Admitted requests that left unanswered (cancelled or past their deadline), from /metrics. */
async function dropped(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return [...text.matchAll(/^ranet_dropped_total\{reason="\w+"\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/** p99 of each stage's batch time (dispatch to answer) from the server's debug log lines since `from`. */
function stageP99Ms(server: SpawnedServer, from: number, stages: number): number[] {
  const times: number[][] = Array.from({ length: stages }, () => []);
  for (const l of server.lines.slice(from)) if (l.msg === "batch ran") times[l.stage - 1]!.push(l.ms);
  return times.map((xs) => xs.sort((a, b) => a - b)[Math.floor(0.99 * (xs.length - 1))] ?? 0);
}

// Every image runs to the last exit unless very confident (budget target 1): the costliest traffic.
describe.runIf(existsSync(FMNIST_DIR))("overload at twice the measured capacity", () => {
  let server: SpawnedServer;
  let address: string;
  let metricsPort: number;
  let stages: number;
  let request: (i: number) => unknown;
  beforeAll(async () => {
    const manifest = await loadManifest(MODEL_DIR);
    const set = loadFashionMnist("test");
    const bytes = Array.from({ length: 2000 }, (_, i) => Buffer.from(normalise(imageOf(set, i), manifest.input).buffer));
    request = (i) => ({ tensor: { shape: [1, 28, 28], data: bytes[i % bytes.length] } });
    stages = manifest.stages.length;
    server = spawnServer([
      "--host", "127.0.0.1", "--port", "0", "--metrics-host", "127.0.0.1", "--metrics-port", "0",
      "--model-dir", MODEL_DIR,
      "--budget-target", "1",
      "--max-queue-wait-ms", String(MAX_QUEUE_WAIT_MS),
      "--max-queue-delay-ms", String(MAX_QUEUE_DELAY_MS),
      "--log-level", "debug", // one line per batch: the stage times
    ]);
    const serving = await server.serving;
    address = `127.0.0.1:${serving.grpcPort}`;
    metricsPort = serving.metricsPort!;
  });
  afterAll(async () => {
    server?.proc.kill("SIGTERM");
    if (server?.proc.exitCode === null) await once(server.proc, "exit");
  });

  it("sheds at admission with RESOURCE_EXHAUSTED, answers every admitted request, and bounds their latency", async () => {
    const capacity = await runLoad({ address, concurrency: 64, api: "stream", durationMs: 4000, warmupMs: 1000, request });
    const droppedBefore = await dropped(metricsPort);
    const from = server.lines.length;
    const load = await runOpenLoop({ address, rate: 2 * capacity.throughput, durationMs: 8000, request });
    const stageMs = stageP99Ms(server, from, stages);
    // admission bounds the wait for the first stage's answer; then the request passes the later
    // stages, at each waiting at most for the batch running there and for its own, and each of
    // its batches may wait maxQueueDelayMs to fill
    const later = stageMs.slice(1).reduce((a, b) => a + b, 0);
    const boundMs = MAX_QUEUE_WAIT_MS + 2 * later + stages * MAX_QUEUE_DELAY_MS;
    const ok = load.codes.OK ?? 0;
    const shed = load.codes.RESOURCE_EXHAUSTED ?? 0;
    console.log(
      `overload: capacity ${capacity.throughput.toFixed(0)}/s, offered ${load.sentPerSecond.toFixed(0)}/s for 8 s: ` +
        `${load.sent} sent, ${ok} OK, ${shed} RESOURCE_EXHAUSTED (${((100 * shed) / load.sent).toFixed(1)}%), ${load.unanswered} unanswered; ` +
        `OK latency p50 ${load.okLatencyMs.p50.toFixed(0)} ms, p99 ${load.okLatencyMs.p99.toFixed(0)} ms, max ${load.okLatencyMs.max.toFixed(0)} ms; ` +
        `p99 by second ${load.okP99BySecondMs.map((x) => x.toFixed(0)).join(" ")}; p99 stage batch ms ${stageMs.map((t) => t.toFixed(1)).join(" ")}; bound ${boundMs.toFixed(0)} ms`,
    );
    expect(load.sentPerSecond).toBeGreaterThan(1.8 * capacity.throughput); // the client kept up
    expect(load.unanswered).toBe(0);
    expect(Object.keys(load.codes).sort()).toEqual(["OK", "RESOURCE_EXHAUSTED"]);
    expect(ok + shed).toBe(load.sent);
    expect(shed).toBeGreaterThan(0.2 * load.sent);
    expect(await dropped(metricsPort)).toBe(droppedBefore); // nothing admitted was cancelled or timed out
    expect(ok / 8).toBeGreaterThan(0.6 * capacity.throughput); // goodput holds up under overload
    expect(load.okLatencyMs.p99).toBeLessThan(boundMs);
  });
});
