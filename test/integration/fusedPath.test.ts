import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { FMNIST_DIR, imageOf, loadFashionMnist, normalise } from "../support/fashionMnist.js";
import { parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";

/**
 * Requests forced to the last exit run the fused whole-network graph: the answers (class,
 * confidence, exit, FLOPs, every exit's prediction, under the auto-chosen scoring rule) are
 * those of the staged path.
 */
describe("fused deep path", () => {
  let fused: Awaited<ReturnType<typeof startServer>>;
  let staged: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    fused = await startServer(["--fused-path", "true"]);
    staged = await startServer(["--fused-path", "false"]);
  });
  afterAll(async () => {
    await fused.stop();
    await staged.stop();
  });

  const inputs = (): Float32Array[] => {
    if (!existsSync(FMNIST_DIR)) return parityFixtures().map((f) => Float32Array.from(f.input));
    const set = loadFashionMnist("test");
    const spec = fused.app.models.current.manifest.input;
    return Array.from({ length: 200 }, (_, i) => normalise(imageOf(set, i * 41), spec));
  };

  it("answers forced-last requests exactly as the staged path does, with and without every exit's prediction", async () => {
    const xs = inputs();
    for (const returnAll of [true, false]) await sameAnswers(xs, returnAll);
    // the fused server ran the fused graph (metrics label it stage 7, after the 6 stages); the staged one never did
    const fusedBatches = async (srv: typeof fused) => {
      const text = await (await fetch(`http://127.0.0.1:${srv.app.metricsPort}/metrics`)).text();
      return Number(/^ranet_stage_batch_size_count\{model="ranet-fmnist",version="1",stage="7"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    expect(await fusedBatches(fused)).toBeGreaterThan(0);
    expect(await fusedBatches(staged)).toBe(0);
  });

  async function sameAnswers(xs: Float32Array[], returnAll: boolean): Promise<void> {
    const req = (x: Float32Array) => ({ tensor: { shape: [1, 28, 28], data: tensorBytes(x) }, options: { exit: 6, return_all_exits: returnAll } });
    const [a, b] = await Promise.all([
      Promise.all(xs.map((x) => unary(fused.clients.classifier, "Classify", req(x)))),
      Promise.all(xs.map((x) => unary(staged.clients.classifier, "Classify", req(x)))),
    ]);
    for (let i = 0; i < xs.length; i++) {
      expect({ cls: a[i]!.class_index, exit: a[i]!.exit, flops: a[i]!.flops, reason: a[i]!.exit_reason }).toEqual({
        cls: b[i]!.class_index,
        exit: b[i]!.exit,
        flops: b[i]!.flops,
        reason: b[i]!.exit_reason,
      });
      expect(a[i]!.confidence).toBeCloseTo(b[i]!.confidence, 5);
      expect(a[i]!.exits.map((e) => [e.exit, e.class_index, e.flops])).toEqual(b[i]!.exits.map((e) => [e.exit, e.class_index, e.flops]));
      expect(a[i]!.exits).toHaveLength(returnAll ? 6 : 0);
      expect(a[i]!.top_k.map((p) => p.class_index)).toEqual(b[i]!.top_k.map((p) => p.class_index));
      a[i]!.top_k.forEach((p, j) => {
        expect(p.probability).toBeCloseTo(b[i]!.top_k[j]!.probability, 5);
      });
    }
  }

  it("keeps adaptive, anytime and earlier fixed exits on the staged path", async () => {
    const x = inputs()[0]!;
    const t = { shape: [1, 28, 28], data: tensorBytes(x) };
    for (const options of [{}, { exit: 3 }, { exit: 6, anytime: true }]) {
      const [a, b] = await Promise.all([
        unary(fused.clients.classifier, "Classify", { tensor: t, options }),
        unary(staged.clients.classifier, "Classify", { tensor: t, options }),
      ]);
      expect([a.class_index, a.exit, a.flops]).toEqual([b.class_index, b.exit, b.flops]);
    }
  });
});
