import { existsSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { loadConfig } from "../../src/config/config.js";
import { loadManifest } from "../../src/format/manifest.js";
import { FMNIST_DIR, loadFashionMnist, tensorBytesOf } from "../support/fashionMnist.js";
import { codeOf, MODEL_DIR, startServer } from "../support/fixtures.js";
import { streamInOrder } from "../support/orderedStream.js";

const TENANTS = JSON.stringify([{ name: "gold", budgetTarget: 0.3, priority: 1 }, { name: "silver", budgetTarget: 0.7 }, { name: "plain" }]);

describe.runIf(existsSync(FMNIST_DIR))("tenants", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let inputs: Buffer[];
  let last: number;
  beforeAll(async () => {
    s = await startServer(["--tenants", TENANTS, "--priority-levels", "2", "--max-stream-inflight", "256"]);
    const manifest = await loadManifest(MODEL_DIR);
    last = manifest.exits.at(-1)!.flops;
    inputs = tensorBytesOf(loadFashionMnist("test"), 3000, manifest.input);
  });
  afterAll(() => s?.stop());

  /** Classify with metadata (the tenant header), resolving with the status name and details. */
  const classify = (metadata: Record<string, string>, req: object = { tensor: { shape: [1, 28, 28], data: inputs[0] } }) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise<string>((resolve) =>
      s.clients.classifier.Classify(req, md, (err: grpc.ServiceError | null) => resolve(err ? `${grpc.status[err.code]}: ${err.details}` : "OK")),
    );
  };

  it("holds each tenant's requests at the tenant's own target while their traffic interleaves", async () => {
    const requests = inputs.map((data) => ({ tensor: { shape: [1, 28, 28], data } }));
    const [gold, silver, other] = await Promise.all([
      streamInOrder(s.clients.classifier, requests, 128, { "x-tenant": "gold" }),
      streamInOrder(s.clients.classifier, [...requests].reverse(), 128, { "x-tenant": "silver" }),
      streamInOrder(s.clients.classifier, requests, 128, { "x-tenant": "bronze" }), // not configured: the model's 50%
    ]);
    const mean = (xs: { flops: number }[]) => xs.reduce((a, r) => a + Number(r.flops), 0) / xs.length / last;
    expect(mean(gold!)).toBeGreaterThan(0.3 * 0.93);
    expect(mean(gold!)).toBeLessThan(0.3 * 1.01);
    expect(mean(silver!)).toBeGreaterThan(0.7 * 0.93);
    expect(mean(silver!)).toBeLessThan(0.7 * 1.01);
    expect(mean(other!)).toBeGreaterThan(0.5 * 0.93);
    expect(mean(other!)).toBeLessThan(0.5 * 1.01);
    const metrics = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^ranet_tenant_requests_total\{model="ranet-fmnist",version="1",tenant="gold"\} 3000$/m);
    expect(metrics).toMatch(/^ranet_tenant_requests_total\{model="ranet-fmnist",version="1",tenant="other"\} 3000$/m);
    expect(metrics).not.toContain('tenant="bronze"');
  });

  it("reads and sets budgets per tenant; SetBudget on one tenant changes only its budget", async () => {
    const get = (tenant: string) => unary(s.clients.budget, "GetBudget", { tenant });
    expect((await get("gold")).target_fraction).toBeCloseTo(0.3, 6);
    await unary(s.clients.budget, "SetBudget", { tenant: "silver", target_fraction: 0.6 });
    expect((await get("silver")).target_fraction).toBeCloseTo(0.6, 6);
    expect((await get("gold")).target_fraction).toBeCloseTo(0.3, 6);
    expect((await get("")).target_fraction).toBeCloseTo(0.5, 6);
    expect(await codeOf(unary(s.clients.budget, "SetBudget", { tenant: "bronze", target_fraction: 0.5 }))).toBe(
      "NOT_FOUND: tenant: 'bronze' is not configured; configured tenants: gold, silver, plain",
    );
    expect(await codeOf(unary(s.clients.budget, "GetBudget", { tenant: "plain" }))).toMatch(/^FAILED_PRECONDITION: tenant 'plain' has no budget of its own/);
  });

  it("refuses a tenant header that is not a tenant name, quoting at most 64 characters of it", async () => {
    // (grpc-js clients refuse control characters in metadata themselves)
    expect(await classify({ "x-tenant": "gold; drop table" })).toBe(
      "INVALID_ARGUMENT: metadata 'x-tenant': expected a tenant name (1-128 letters, digits, '.', '_', ':', '/', '@' or '-'), got 'gold; drop table'",
    );
    const long = await classify({ "x-tenant": "g".repeat(10_000) });
    expect(long).toMatch(/^INVALID_ARGUMENT: metadata 'x-tenant': .*\(10000 characters\)$/);
    expect(long.length).toBeLessThan(300);
    expect(await classify({ "x-tenant": "gold" })).toBe("OK");
  });

  it("refuses tenant settings that contradict each other", () => {
    const twice = JSON.stringify([{ name: "gold" }, { name: "gold", budgetTarget: 0.2 }]);
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--tenants", twice], {})).toThrow(/config key 'tenants': tenant 'gold' is configured twice/);
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--tenants", '[{"name":"a b"}]'], {})).toThrow(/config key 'tenants'/);
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--tenants", "not json"], {})).toThrow(/config key 'tenants'/);
  });
});
