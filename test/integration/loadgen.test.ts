import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClassifyRequest } from "../../src/generated/ranet/v1/ClassifyRequest.js";
import { parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";
import { runLoad } from "../support/loadgen.js";
import { encode } from "../support/rawGrpc.js";

type Server = Awaited<ReturnType<typeof startServer>>;

// The benchmarks' load generators against the real server: the node:http2 client ("h2stream")
// must count what the grpc-js client counts.
describe("load generators", () => {
  let s: Server;
  let address: string;
  const inputs = parityFixtures()
    .slice(0, 8)
    .map((f) => tensorBytes(f.input));
  const request =
    (exit: number) =>
    (i: number): ClassifyRequest => ({ tensor: { shape: [1, 28, 28], data: inputs[i % inputs.length] }, options: { exit } });
  const bodies = (exit: number) => inputs.map((_, i) => encode("ranet.v1.ClassifyRequest", request(exit)(i) as Record<string, unknown>));

  beforeAll(async () => {
    s = await startServer(["--max-queue-delay-ms", "2"]);
    address = `127.0.0.1:${s.app.grpcPort}`;
  });
  afterAll(() => s.stop());

  it("h2stream and grpc-js streams agree on exits and FLOPs, with batches of 1 and more", async () => {
    const exitFlops = s.app.models.current.classifier.manifest.exits.map((e) => e.flops);
    const encoded = bodies(2);
    for (const concurrency of [1, 16]) {
      const o = { address, concurrency, durationMs: 600, warmupMs: 200, request: request(2) };
      const raw = await runLoad({ ...o, api: "h2stream", body: (i) => encoded[i % encoded.length]! });
      const js = await runLoad({ ...o, api: "stream" });
      for (const r of [raw, js]) {
        expect(r.errors).toEqual({});
        expect(r.requests).toBeGreaterThan(0);
        expect(r.exits).toEqual([0, r.requests]);
        expect(r.meanFlops).toBe(exitFlops[1]);
        expect(Number.isFinite(r.latencyMs.p50)).toBe(true); // answers matched to their requests by id
      }
    }
  });

  it("h2stream counts refused requests by status code and keeps the load going", async () => {
    const refused = bodies(99); // no exit 99: INVALID_ARGUMENT (3) on each stream item
    const r = await runLoad({
      address,
      concurrency: 4,
      durationMs: 300,
      warmupMs: 100,
      request: request(99),
      api: "h2stream",
      body: (i) => refused[i % refused.length]!,
    });
    expect(r.requests).toBe(0);
    expect(r.errors["3"]).toBeGreaterThan(4);
  });

  it("h2stream needs the encoded requests", async () => {
    await expect(runLoad({ address, concurrency: 1, durationMs: 10, request: request(1), api: "h2stream" })).rejects.toThrow(/body/);
  });
});
