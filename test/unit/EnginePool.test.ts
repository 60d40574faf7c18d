import pino from "pino";
import { describe, expect, it } from "vitest";
import { EnginePool } from "../../src/engine/EnginePool.js";
import type { HostTensor } from "../../src/engine/StageRunner.js";

/** A worker that runs what it is handed one at a time, in order, finishing when the test says so. */
class FakeWorker {
  alive = true;
  onDeath: (reason: string) => void = () => {};
  /** Every batch handed over, as "model:stage", in hand-over order. */
  readonly handed: string[] = [];
  private readonly pending: { name: string; finish: () => void }[] = [];
  get outstanding(): number {
    return this.pending.length;
  }
  /** The batch it runs now (the first handed over and not finished). */
  get running(): string | undefined {
    return this.pending[0]?.name;
  }
  /** Finishes the running batch. */
  finish(): void {
    this.pending.shift()!.finish();
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

const settle = () => new Promise((r) => setTimeout(r, 0));

async function poolOf(workers: number, models: string[]) {
  const fakes = Array.from({ length: workers }, () => new FakeWorker());
  const Ctor = EnginePool as unknown as new (w: FakeWorker[], setup: object, log: pino.Logger) => EnginePool;
  const pool = new Ctor(fakes, {}, pino({ level: "silent" }));
  for (const m of models) await pool.load(m, ["stage1.onnx"], ["cpu"]);
  return { pool, fakes };
}

describe("EnginePool", () => {
  it("fills both slots of a worker with a lone model's batches", async () => {
    const { pool, fakes } = await poolOf(1, ["a"]);
    for (let k = 0; k < 3; k++) void pool.run("a", 0, {}, false);
    expect(fakes[0]!.handed).toEqual(["a:0", "a:0"]);
  });

  it("lets a quiet model's batch into the next free slot ahead of a flooded model's", async () => {
    const { pool, fakes } = await poolOf(1, ["a", "b"]);
    const w = fakes[0]!;
    for (let k = 0; k < 10; k++) void pool.run("a", 0, {}, false); // flooded
    expect(w.handed).toEqual(["a:0", "a:0"]);
    void pool.run("b", 0, {}, false);
    w.finish(); // the running "a" batch ends, the waiting one starts; "b" (none in the workers) takes the free slot
    await settle();
    expect(w.handed).toEqual(["a:0", "a:0", "b:0"]);
  });

  it("queues no flooded model's batch behind a quiet model's, so its next stage runs as soon as its previous one finishes", async () => {
    const { pool, fakes } = await poolOf(2, ["a", "b"]);
    const [w1, w2] = fakes as [FakeWorker, FakeWorker];
    for (let k = 0; k < 20; k++) void pool.run("a", 0, {}, false); // flooded
    const b1 = pool.run("b", 0, {}, false);
    w1.finish(); // w1: the waiting "a" starts; "b" takes its free slot
    await settle();
    expect(w1.handed.slice(2)).toEqual(["b:0"]);
    w1.finish(); // w1 runs "b"; "a" (two in the workers) is not queued behind it
    await settle();
    expect([w1.running, w1.outstanding]).toEqual(["b:0", 1]);
    w2.finish(); // w2 stays busy with "a"
    await settle();
    expect(w2.handed.slice(2)).toEqual(["a:0"]);
    w1.finish();
    await b1;
    void pool.run("b", 1, {}, false); // "b"'s next stage: w1 is idle, and "b" has the fewest in the workers
    await settle();
    expect(w1.running).toBe("b:1");
    expect(w1.handed.slice(3)).toEqual(["b:1"]);
  });

  it("gives an idle worker to the model with the fewest batches in the workers, deepest stage first", async () => {
    const { pool, fakes } = await poolOf(2, ["a", "b"]);
    for (let k = 0; k < 4; k++) void pool.run("a", 0, {}, false);
    expect(fakes.map((f) => f.handed)).toEqual([
      ["a:0", "a:0"],
      ["a:0", "a:0"],
    ]);
    void pool.run("a", 2, {}, false);
    void pool.run("b", 0, {}, false);
    void pool.run("b", 3, {}, false);
    fakes[1]!.finish();
    await settle();
    // "b" has none in the workers, "a" has three; of "b", the deepest stage
    expect(fakes[1]!.handed.slice(2)).toEqual(["b:3"]);
    fakes[1]!.finish();
    await settle();
    // running "b": "a" (two in the workers) does not queue behind it, "b" does
    expect(fakes[1]!.handed.slice(2)).toEqual(["b:3", "b:0"]);
    expect(fakes[0]!.handed.slice(2)).toEqual([]);
  });

  it("hands a model's batches over by priority level first, then deepest stage", async () => {
    const { pool, fakes } = await poolOf(1, ["a"]);
    const w = fakes[0]!;
    void pool.run("a", 0, {}, false, 2);
    void pool.run("a", 0, {}, false, 2); // both slots taken
    void pool.run("a", 3, {}, false, 2);
    void pool.run("a", 0, {}, false, 1);
    void pool.run("a", 1, {}, false, 1);
    for (let k = 0; k < 3; k++) {
      w.finish();
      await settle();
    }
    expect(w.handed).toEqual(["a:0", "a:0", "a:1", "a:0", "a:3"]);
  });
});
