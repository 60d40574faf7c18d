import pino from "pino";
import { describe, expect, it } from "vitest";
import { EnginePool } from "../../src/engine/EnginePool.js";
import type { HostTensor } from "../../src/engine/StageRunner.js";

/** A worker that records what it is handed and finishes when the test says so. */
class FakeWorker {
  alive = true;
  onDeath: (reason: string) => void = () => {};
  /** Every batch handed over, as "model:stage", in hand-over order. */
  readonly handed: string[] = [];
  private readonly pending: { name: string; finish: () => void }[] = [];
  get outstanding(): number {
    return this.pending.length;
  }
  run(key: string, stage: number): Promise<Record<string, HostTensor>> {
    const name = `${key}:${stage}`;
    this.handed.push(name);
    return new Promise((resolve) => this.pending.push({ name, finish: () => resolve({}) }));
  }
  async load(): Promise<{ inputs: string[]; outputs: string[] }[]> {
    return [{ inputs: ["x"], outputs: ["logits"] }];
  }
  async unload(): Promise<void> {}
  async stop(): Promise<void> {}
}

async function poolOf(workers: number, models: string[]) {
  const fakes = Array.from({ length: workers }, () => new FakeWorker());
  const Ctor = EnginePool as unknown as new (w: FakeWorker[], setup: object, log: pino.Logger) => EnginePool;
  const pool = new Ctor(fakes, {}, pino({ level: "silent" }));
  for (const m of models) await pool.load(m, ["stage1.onnx"], ["cpu"]);
  return { pool, fakes };
}

describe("EnginePool", () => {
  it("runs a batch on the worker the scheduler names, else on the live worker with the fewest batches", async () => {
    const { pool, fakes } = await poolOf(3, ["a"]);
    void pool.run("a", 1, {}, false, 2);
    void pool.run("a", 0, {}, false, 2);
    expect(fakes.map((f) => f.handed)).toEqual([[], [], ["a:1", "a:0"]]);
    fakes[0]!.alive = false;
    void pool.run("a", 3, {}, false); // warm-up and tools: no worker named
    expect(fakes[1]!.handed).toEqual(["a:3"]);
  });

  it("refuses a batch for a worker that is not running, and for a model it does not hold", async () => {
    const { pool, fakes } = await poolOf(2, ["a"]);
    fakes[1]!.alive = false;
    await expect(pool.run("a", 0, {}, false, 1)).rejects.toThrow(/no engine worker is running there/);
    expect(pool.alive(1)).toBe(false);
    expect(pool.alive(0)).toBe(true);
    await expect(pool.run("b", 0, {}, false, 0)).rejects.toThrow(/model b is not loaded/);
    await pool.unload("a");
    await expect(pool.run("a", 0, {}, false, 0)).rejects.toThrow(/not loaded/);
  });
});
