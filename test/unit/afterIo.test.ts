import { describe, expect, it } from "vitest";
import { afterIo } from "../../src/core/afterIo.js";

describe("afterIo", () => {
  it("resolves in the check phase: after the turn's microtasks, before immediates queued after it", async () => {
    const order: string[] = [];
    const turn = afterIo().then(() => order.push("afterIo"));
    void Promise.resolve().then(() => order.push("microtask"));
    setImmediate(() => order.push("immediate queued after it"));
    await turn;
    expect(order).toEqual(["microtask", "afterIo"]);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["microtask", "afterIo", "immediate queued after it"]);
  });

  it("gives every caller of one turn the same promise, and the next turn a new one", async () => {
    const a = afterIo();
    const b = afterIo();
    expect(b).toBe(a);
    await a;
    const c = afterIo();
    expect(c).not.toBe(a);
    await c;
  });

  it("lets requests of one turn start in the order they arrived", async () => {
    const started: number[] = [];
    await Promise.all([1, 2, 3].map((i) => afterIo().then(() => started.push(i))));
    expect(started).toEqual([1, 2, 3]);
  });
});
