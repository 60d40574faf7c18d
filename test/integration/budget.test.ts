import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { codeOf, parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";

type Server = Awaited<ReturnType<typeof startServer>>;
const fixtures = parityFixtures();

/** The budget gauges' lines of a server's /metrics. */
async function budgetGauges(s: Server): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
  return text.split("\n").filter((l) => /^ranet_budget_(target|realized)_flops\{/.test(l));
}

describe("budget admin API (controller on)", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer(["--budget-target", "0.5"]);
  });
  afterAll(() => s.stop());

  it("exports the target, and a realised mean only once a request was answered", async () => {
    const last = s.app.models.current.classifier.exitFlops.at(-1)!;
    // before any request: the target only (a realised mean of nothing would just repeat it)
    expect(await budgetGauges(s)).toEqual([`ranet_budget_target_flops{model="ranet-fmnist",version="1",mode="controller"} ${0.5 * last}`]);
    await unary(s.clients.classifier, "Classify", { tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[0]!.input) } });
    const until = Date.now() + 3000;
    while (!(await budgetGauges(s)).some((l) => l.startsWith("ranet_budget_realized_flops")) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 100));
    expect((await budgetGauges(s)).some((l) => l.startsWith('ranet_budget_realized_flops{model="ranet-fmnist",version="1",mode="controller"}'))).toBe(true);
  });

  it("reports the target, mode and the offline start point", async () => {
    const st = await unary(s.clients.budget, "GetBudget", {});
    const last = s.app.models.current.classifier.exitFlops.at(-1)!;
    expect(st.mode).toBe("controller");
    expect(st.target_fraction).toBeCloseTo(0.5, 6);
    expect(st.target_flops).toBe(Math.round(0.5 * last));
    expect(st.thresholds).toHaveLength(s.app.models.current.classifier.exitFlops.length);
    expect(st.start_point!.expected_flops).toBeLessThanOrEqual(0.5 * last);
  });

  it("sets a new target at run time and the controller follows the spent FLOPs", async () => {
    const st = await unary(s.clients.budget, "SetBudget", { target_fraction: 0.3 });
    expect(st.target_fraction).toBeCloseTo(0.3, 6);
    const before = st.knob;
    const expensive = { tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[0]!.input) }, options: { exit: 6 } };
    for (let i = 0; i < 20; i++) await unary(s.clients.classifier, "Classify", expensive);
    const after = await unary(s.clients.budget, "GetBudget", {});
    expect(after.observed_requests).toBeGreaterThanOrEqual(20);
    expect(after.knob).toBeLessThan(before); // overspending lowers every threshold
    const flops = await unary(s.clients.budget, "SetBudget", { target_flops: 5_000_000 });
    expect(flops.target_flops).toBe(5_000_000);
  });

  it("validates targets and exposes the table and oracle", async () => {
    expect(await codeOf(unary(s.clients.budget, "SetBudget", { target_fraction: 1.5 }))).toMatch(
      /^INVALID_ARGUMENT: target_fraction: expected a fraction of the last exit's FLOPs from 0\.\d+ \(the first exit's\) to 1, got 1\.5$/,
    );
    expect(await codeOf(unary(s.clients.budget, "SetBudget", { target_fraction: 0.01 }))).toMatch(/^INVALID_ARGUMENT: target_fraction: .*got 0\.01$/);
    // targets outside [first exit's FLOPs, last exit's FLOPs] cannot be met by any exit policy
    const model = await unary(s.clients.modelAdmin, "GetModel", {});
    const [first, last] = [model.exit_flops[0]!, model.exit_flops.at(-1)!];
    for (const t of [1, first - 1, last + 1, 2 ** 53]) {
      expect(await codeOf(unary(s.clients.budget, "SetBudget", { target_flops: t }))).toBe(
        `INVALID_ARGUMENT: target_flops: expected multiply-adds from ${first} (the first exit's cost) to ${last} (the last exit's), got ${t}`,
      );
    }
    expect((await unary(s.clients.budget, "SetBudget", { target_flops: first })).target_flops).toBe(first);
    expect((await unary(s.clients.budget, "SetBudget", { target_flops: last })).target_flops).toBe(last);
    expect(await codeOf(unary(s.clients.budget, "SetBudget", {}))).toMatch(/^INVALID_ARGUMENT: target: expected target_flops/);
    const table = await unary(s.clients.budget, "GetBudgetTable", {});
    expect(table.points).toHaveLength(39);
    expect(table.oracle).toHaveLength(39);
    table.points.forEach((p: { accuracy: number }, i: number) => {
      expect(table.oracle[i]!.accuracy).toBeGreaterThanOrEqual(p.accuracy - 1e-9);
    });
    const md = await unary(s.clients.classifier, "GetModelMetadata", {});
    expect(md.budget_table).toHaveLength(39);
  });
});

describe("budget admin API (fixed thresholds)", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer(["--thresholds", "0.9,0.9,0.9,0.9,0.9"]);
  });
  afterAll(() => s.stop());

  it("exports no budget target or realised mean: no budget applies (the overspend alert stays quiet)", async () => {
    await unary(s.clients.classifier, "Classify", { tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[0]!.input) } });
    await new Promise((r) => setTimeout(r, 1200)); // the gauges are published every second
    expect(await budgetGauges(s)).toEqual([]);
  });

  it("refuses a target with FAILED_PRECONDITION", async () => {
    expect(await codeOf(unary(s.clients.budget, "SetBudget", { target_fraction: 0.5 }))).toMatch(/^FAILED_PRECONDITION: the server runs with fixed thresholds/);
    expect((await unary(s.clients.budget, "GetBudget", {})).thresholds.slice(0, 5)).toEqual(Array(5).fill(expect.closeTo(0.9, 6)));
  });
});
