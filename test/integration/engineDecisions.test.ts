import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { FMNIST_DIR, imageOf, loadFashionMnist, normalise } from "../support/fashionMnist.js";
import { parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";

/**
 * Exits decided in the engine worker (exitDecisionsInEngine): with the offline table's fixed
 * thresholds the answers are those of decisions made on the main thread, adaptive, fixed exit
 * and FLOPs budget alike; every stage still reports its batches to the metrics.
 */
describe("exits decided in the engine", () => {
  let engine: Awaited<ReturnType<typeof startServer>>;
  let main: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    const args = ["--controller", "false", "--budget-target", "0.5"];
    engine = await startServer([...args, "--exit-decisions-in-engine", "true"]);
    main = await startServer([...args, "--exit-decisions-in-engine", "false"]);
  });
  afterAll(async () => {
    await engine.stop();
    await main.stop();
  });

  const inputs = (): Float32Array[] => {
    if (!existsSync(FMNIST_DIR)) return parityFixtures().map((f) => Float32Array.from(f.input));
    const set = loadFashionMnist("test");
    const spec = engine.app.models.current.manifest.input;
    return Array.from({ length: 300 }, (_, i) => normalise(imageOf(set, i * 29), spec));
  };

  it("answers as decisions on the main thread do: adaptive, a fixed exit, a FLOPs budget", async () => {
    const xs = inputs();
    const last = engine.app.models.current.manifest.exits.at(-1)!.flops;
    for (const options of [{ return_all_exits: true }, { exit: 4 }, { flops_budget: Math.round(0.6 * last) }]) {
      const req = (x: Float32Array) => ({ tensor: { shape: [1, 28, 28], data: tensorBytes(x) }, options });
      const [a, b] = await Promise.all([
        Promise.all(xs.map((x) => unary(engine.clients.classifier, "Classify", req(x)))),
        Promise.all(xs.map((x) => unary(main.clients.classifier, "Classify", req(x)))),
      ]);
      for (let i = 0; i < xs.length; i++) {
        const pick = (r: (typeof a)[number]) => ({
          cls: r.class_index,
          exit: r.exit,
          flops: r.flops,
          reason: r.exit_reason,
          exits: r.exits.map((e) => [e.exit, e.class_index]),
        });
        expect(pick(a[i]!)).toEqual(pick(b[i]!));
        expect(a[i]!.confidence).toBeCloseTo(b[i]!.confidence, 5);
      }
      if (options.return_all_exits) expect(new Set(a.map((r) => r.exit)).size).toBeGreaterThan(2);
    }
  });

  it("reports every stage's batches, those run in the engine's chains included", async () => {
    const text = await (await fetch(`http://127.0.0.1:${engine.app.metricsPort}/metrics`)).text();
    const batches = (stage: number) =>
      Number(new RegExp(`^ranet_stage_batch_size_count\\{model="ranet-fmnist",version="1",stage="${stage}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    expect(batches(1)).toBeGreaterThan(0);
    expect(batches(2)).toBeGreaterThan(0);
    expect(batches(6)).toBeGreaterThan(0);
  });
});
