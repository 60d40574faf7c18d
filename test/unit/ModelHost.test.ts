import pino from "pino";
import { describe, expect, it } from "vitest";
import { ServingError } from "../../src/core/errors.js";
import { type HostedModel, ModelHost } from "../../src/model/ModelHost.js";

class FakeModel implements HostedModel {
  drained = false;
  disposed = false;
  constructor(readonly name: string) {}
  async drain(): Promise<void> {
    this.drained = true;
  }
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

/** A promise with its resolve handle. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));
const log = pino({ level: "silent" });

function host(load: (dir: string) => Promise<FakeModel>, swaps: string[] = []) {
  return new ModelHost<FakeModel>(new FakeModel("v1"), { load, log, onSwap: (next, prev) => swaps.push(`${prev.name}->${next.name}`) });
}

describe("ModelHost", () => {
  it("serves the new version after a reload and retires the old one", async () => {
    const swaps: string[] = [];
    const h = host(async (dir) => new FakeModel(dir), swaps);
    const old = h.current;
    const r = await h.reload("v2");
    expect(r.previous).toBe(old);
    expect(h.current.name).toBe("v2");
    expect(swaps).toEqual(["v1->v2"]);
    await tick();
    expect(old.drained && old.disposed).toBe(true);
    expect(h.current.disposed).toBe(false);
  });

  it("keeps serving the old version when the new one fails to load", async () => {
    const h = host(async () => {
      throw new Error("stage3.onnx: protobuf parsing failed");
    });
    const old = h.current;
    const err = await h.reload("broken").catch((e) => e);
    expect(err).toBeInstanceOf(ServingError);
    expect(err.kind).toBe("failed_precondition");
    expect(err.message).toMatch(/cannot load the model in broken: stage3.onnx: protobuf parsing failed; the previous version keeps serving/);
    expect(h.current).toBe(old);
    expect(old.drained || old.disposed).toBe(false);
  });

  it("lets a request that started on the old version finish on it before disposing it", async () => {
    const h = host(async (dir) => new FakeModel(dir));
    const gate = deferred<string>();
    const inflight = h.use(async (m) => `${m.name}:${await gate.promise}`);
    const old = h.current;
    await h.reload("v2");
    await tick();
    expect(old.disposed).toBe(false); // still leased by the running request
    expect(await h.use(async (m) => m.name)).toBe("v2"); // new requests take the new version
    gate.resolve("done");
    expect(await inflight).toBe("v1:done");
    await tick();
    expect(old.disposed).toBe(true);
  });

  it("runs reloads one at a time in call order", async () => {
    const loads: ReturnType<typeof deferred<FakeModel>>[] = [];
    const started: string[] = [];
    const h = host((dir) => {
      started.push(dir);
      const d = deferred<FakeModel>();
      loads.push(d);
      return d.promise;
    });
    const a = h.reload("v2");
    const b = h.reload("v3");
    await tick();
    expect(started).toEqual(["v2"]);
    loads[0]!.resolve(new FakeModel("v2"));
    await a;
    await tick();
    expect(started).toEqual(["v2", "v3"]);
    loads[1]!.resolve(new FakeModel("v3"));
    await b;
    expect(h.current.name).toBe("v3");
  });

  it("a version the swap hook rejects is disposed and the old one keeps serving", async () => {
    const loaded: FakeModel[] = [];
    const h = new ModelHost<FakeModel>(new FakeModel("v1"), {
      load: async (dir) => {
        const m = new FakeModel(dir);
        loaded.push(m);
        return m;
      },
      log,
      onSwap: () => {
        throw new Error("budget target out of range");
      },
    });
    const old = h.current;
    await expect(h.reload("v2")).rejects.toMatchObject({ kind: "failed_precondition", message: expect.stringContaining("budget target out of range") });
    expect(h.current).toBe(old);
    expect(loaded[0]!.disposed).toBe(true);
  });

  it("a failed reload does not block the next one", async () => {
    let n = 0;
    const h = host(async (dir) => {
      if (n++ === 0) throw new Error("missing manifest");
      return new FakeModel(dir);
    });
    await expect(h.reload("bad")).rejects.toThrow(/missing manifest/);
    await h.reload("v2");
    expect(h.current.name).toBe("v2");
  });

  it("drain refuses later reloads and discards a version that finishes loading during it", async () => {
    const d = deferred<FakeModel>();
    const h = host(() => d.promise);
    const first = h.current;
    const pending = h.reload("v2");
    await tick(); // loading has started
    const drained = h.drain();
    const late = new FakeModel("v2");
    d.resolve(late);
    await expect(pending).rejects.toMatchObject({ kind: "unavailable" });
    await drained;
    expect(late.disposed).toBe(true);
    expect(h.current).toBe(first);
    expect(first.drained).toBe(true);
    await expect(h.reload("v3")).rejects.toMatchObject({ kind: "unavailable" });
  });
});
