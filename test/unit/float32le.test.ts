import { describe, expect, it } from "vitest";
import { float32le } from "../../src/core/float32le.js";

describe("float32le", () => {
  it("reads little-endian float32 values at any byte offset, copying them out of the message buffer", () => {
    const values = [0, 1.5, -2.25, 3.4028234663852886e38, Number.NaN, -0];
    const buf = Buffer.alloc(3 + values.length * 4);
    values.forEach((v, i) => {
      buf.writeFloatLE(v, 3 + i * 4);
    });
    const bytes = buf.subarray(3); // not 4-byte aligned
    const out = float32le(bytes);
    expect(Array.from(out)).toEqual(values.map((v) => Math.fround(v)));
    expect(out.buffer).not.toBe(bytes.buffer); // its own buffer: transferable, and the message buffer may be reused
    expect(float32le(bytes, 2)).toEqual(Float32Array.of(0, 1.5));
  });
});
