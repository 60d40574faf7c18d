import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrtEngine } from "../../src/engine/OrtEngine.js";
import type { HostTensor } from "../../src/engine/StageRunner.js";
import { loadManifest } from "../../src/format/manifest.js";
import { MODEL_DIR, parityFixtures } from "../support/fixtures.js";

const fixture = parityFixtures()[0]!;
const input = (): Record<string, HostTensor> => ({ image: { data: Float32Array.from(fixture.input), dims: [1, 1, 28, 28] } });

describe("OrtEngine worker threads", () => {
  let engine: OrtEngine;
  const logs: { msg: string }[] = [];
  beforeAll(async () => {
    const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    engine = await OrtEngine.create(await loadManifest(MODEL_DIR), { executionProviders: ["cpu"], intraOpThreads: 1, interOpThreads: 0, workers: 2 }, log);
  });
  afterAll(() => engine.dispose());

  it("runs stages on its workers and moves handed-over inputs instead of copying them", async () => {
    expect(engine.workerCount).toBe(2);
    const feeds = input();
    const out = await engine.runStage(0, feeds, { transferInputs: true });
    expect(out.logits!.dims).toEqual([1, 10]);
    expect(Array.from(out.logits!.data).map((v, i) => Math.abs(v - fixture.logits[0]![i]!) < 1e-4)).toEqual(Array(10).fill(true));
    expect(feeds.image!.data.length).toBe(0); // detached: it went to the worker
    const kept = input();
    await engine.runStage(0, kept);
    expect(kept.image!.data.length).toBe(784); // copied by default
  });

  it("a worker that exits is replaced and the engine goes on", async () => {
    const workers = (engine as unknown as { pool: { workers: { worker: { terminate(): Promise<number> } }[] } }).pool.workers;
    const victim = workers[0]!;
    // terminated while idle: terminating a worker inside session.run would abort the whole
    // process (see StageWorker.stop), so an exit can only be simulated between batches
    await victim.worker.terminate();
    const end = Date.now() + 20_000;
    while (!logs.some((l) => l.msg === "engine worker replaced") && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(logs.some((l) => l.msg.startsWith("engine worker died"))).toBe(true);
    expect(workers[0]).not.toBe(victim);
    const outs = await Promise.all(Array.from({ length: 8 }, () => engine.runStage(0, input())));
    expect(outs.every((o) => o.logits!.dims[1] === 10)).toBe(true);
  });

  it("dispose during a running batch lets it finish first (terminating inside a run would abort the process)", async () => {
    const one = await OrtEngine.create(
      await loadManifest(MODEL_DIR),
      { executionProviders: ["cpu"], intraOpThreads: 1, interOpThreads: 0, workers: 1 },
      pino({ level: "silent" }),
    );
    const big = { image: { data: new Float32Array(512 * 784).fill(0.5), dims: [512, 1, 28, 28] } };
    const running = one.runStage(0, big);
    await new Promise((r) => setTimeout(r, 20)); // inside the run now
    await one.dispose();
    expect((await running).logits!.dims).toEqual([512, 10]);
  });

  // onnxruntime-node before 1.27 aborted the process ("HandleScope ... without proper locking")
  // when sessions ran in more than one worker thread at a time; this guards against a regression
  it("runs thousands of batches on four workers at once", async () => {
    const manifest = await loadManifest(MODEL_DIR);
    const four = await OrtEngine.create(manifest, { executionProviders: ["cpu"], intraOpThreads: 1, interOpThreads: 0, workers: 4 }, pino({ level: "silent" }));
    try {
      const outs = await Promise.all(
        Array.from({ length: 2000 }, (_, i) =>
          four.runStage(0, { image: { data: new Float32Array(4 * 784).fill((i % 10) / 10), dims: [4, 1, 28, 28] } }, { transferInputs: true }),
        ),
      );
      expect(outs.filter((o) => o.logits!.dims[0] === 4)).toHaveLength(2000);
    } finally {
      await four.dispose();
    }
  });
});
