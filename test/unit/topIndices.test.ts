import { describe, expect, it } from "vitest";
import { topIndices } from "../../src/scoring/softmax.js";

describe("topIndices", () => {
  it("gives the k largest, largest first, ties in index order: what a stable sort by value gives", () => {
    let s = 3;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(rand() * 12);
      const values = Float32Array.from({ length: n }, () => Math.floor(rand() * 5) / 4); // many ties
      const sorted = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]!);
      for (const k of [0, 1, 3, 5, n, n + 4]) expect(topIndices(values, k), `${values} k=${k}`).toEqual(sorted.slice(0, k));
    }
  });
});
