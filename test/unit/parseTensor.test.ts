import { describe, expect, it } from "vitest";
import { parseTensor } from "../../src/input/parseTensor.js";

const bytes = (vals: number[]) => {
  const b = Buffer.alloc(vals.length * 4);
  vals.forEach((v, i) => {
    b.writeFloatLE(v, i * 4);
  });
  return b;
};

describe("parseTensor", () => {
  it("accepts [C,H,W] and [1,C,H,W], from bytes or values", () => {
    expect(Array.from(parseTensor({ shape: [1, 2, 2], data: bytes([1, 2, 3, 4]) }, [1, 2, 2], "t"))).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseTensor({ shape: [1, 1, 2, 2], values: [1, 2, 3, 4] }, [1, 2, 2], "t"))).toEqual([1, 2, 3, 4]);
  });
  it("names the field and the expected value", () => {
    expect(() => parseTensor({ shape: [2, 2], values: [1, 2, 3, 4] }, [1, 2, 2], "tensor")).toThrow("tensor.shape: expected [1,2,2] or [1,1,2,2], got [2,2]");
    expect(() => parseTensor({ shape: [1, 2, 2], data: bytes([1, 2, 3]) }, [1, 2, 2], "tensor")).toThrow(
      "tensor.data: expected 16 bytes (4 float32 values), got 12 bytes",
    );
    expect(() => parseTensor({ shape: [1, 2, 2], values: [1, Infinity, 3, 4] }, [1, 2, 2], "tensor")).toThrow(
      "tensor: expected finite float32 values, got Infinity at index 1",
    );
    expect(() => parseTensor({ shape: [1, 2, 2] }, [1, 2, 2], "tensor")).toThrow(/tensor: expected 4 float32 values/);
    expect(() => parseTensor({ shape: [1, 2, 2], data: bytes([1, 2, 3, 4]), values: [1, 2, 3, 4] }, [1, 2, 2], "tensor")).toThrow(/either data or values/);
  });
});
