import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { FMNIST_DIR, imageOf, loadFashionMnist, normalise } from "../support/fashionMnist.js";
import { startServer, tensorBytes } from "../support/fixtures.js";
import { rng } from "../support/rng.js";

describe.runIf(existsSync(FMNIST_DIR))("three replicas behind a round-robin client", () => {
  const TARGET = 0.5;
  let servers: Awaited<ReturnType<typeof startServer>>[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) servers.push(await startServer(["--budget-target", String(TARGET), "--intra-op-threads", "1"]));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [];
  });

  it("keeps the combined mean FLOPs per request under the shared per-replica target on mixed traffic", async () => {
    const set = loadFashionMnist("test");
    const c0 = servers[0]!.app.models.current.classifier;
    const flops = c0.exitFlops;
    const target = TARGET * flops.at(-1)!;
    const address = `ipv4:${servers.map((s) => `127.0.0.1:${s.app.grpcPort}`).join(",")}`;
    const client = makeClients(address, { "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) });
    const r = rng(11);
    const n = 3000;
    // mixed: clean images, noisy (harder) ones, anytime requests capped at exit 2, forced last exits
    const requests = Array.from({ length: n }, (_, i) => {
      const px = Uint8Array.from(imageOf(set, i));
      const kind = r();
      if (kind < 0.25) for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, px[j]! + Math.round((r() - 0.5) * 200)));
      const options = kind > 0.95 ? { exit: flops.length } : kind > 0.85 ? { flops_budget: flops[1] } : {};
      return { tensor: { shape: [1, 28, 28], data: tensorBytes(normalise(px, c0.input)) }, options };
    });
    let next = 0;
    const spent: number[] = [];
    const worker = async () => {
      while (next < n) {
        const res = await unary(client.classifier, "Classify", requests[next++]!);
        spent.push(res.flops);
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    client.close();
    const perReplica = await Promise.all(servers.map((s) => unary(s.clients.budget, "GetBudget", {})));
    const observed = perReplica.map((st) => st.observed_requests);
    const mean = spent.reduce((a, b) => a + b, 0) / spent.length;
    console.log(
      `3 replicas, ${n} mixed requests: mean ${(mean / 1e6).toFixed(3)} MMACs = ${(mean / target).toFixed(4)} x target; per replica ${observed.join("/")}`,
    );
    expect(observed.every((o) => o > n / 6)).toBe(true); // round robin spread the load
    expect(mean).toBeLessThanOrEqual(target);
    expect(mean).toBeGreaterThan(0.9 * target);
  }, 300_000);
});
