import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadManifest } from "../../src/engine/manifest.js";
import { OrtEngine } from "../../src/engine/OrtEngine.js";
import type { HostTensor } from "../../src/engine/StageRunner.js";
import { MODEL_DIR, parityFixtures } from "../helpers/fixtures.js";

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

  it("a worker that dies fails only its batch, and a replacement takes over", async () => {
    const workers = (engine as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers;
    const victim = workers[0]!;
    const running = engine.runStage(0, input()); // an idle engine hands it to the first worker
    await victim.worker.terminate(); // as if it crashed mid-batch
    await expect(running).rejects.toThrow(/engine worker stopped: exit code 1/);
    const end = Date.now() + 20_000;
    while (!logs.some((l) => l.msg === "engine worker replaced") && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(logs.some((l) => l.msg.startsWith("engine worker died"))).toBe(true);
    expect(workers[0]).not.toBe(victim);
    const outs = await Promise.all(Array.from({ length: 8 }, () => engine.runStage(0, input())));
    expect(outs.every((o) => o.logits!.dims[1] === 10)).toBe(true);
  });
});
