import { describe, expect, it } from "vitest";
import { echo, invalidArgument, MAX_ECHO_CHARS, oneofMember, ServingError } from "../../src/core/errors.js";
import { capMessage, MAX_STATUS_MESSAGE_BYTES, statusFor } from "../../src/grpc/statusFor.js";

describe("bounded error messages", () => {
  it("echo quotes short values whole and cuts long ones, giving their length", () => {
    expect(echo("abc")).toBe("'abc'");
    expect(echo("a\nb")).toBe("'a\\nb'");
    const long = echo("x".repeat(10_000));
    expect(long).toBe(`'${"x".repeat(MAX_ECHO_CHARS)}...' (10000 characters)`);
  });

  it("statusFor caps every message at MAX_STATUS_MESSAGE_BYTES of UTF-8 without splitting a character", () => {
    const s = statusFor(new ServingError("not_found", "é".repeat(5000)));
    expect(Buffer.byteLength(s.details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(s.details).toMatch(/^é+ \.\.\. \(cut\)$/);
    expect(capMessage("short")).toBe("short");
    expect(statusFor(new Error("secret path /x")).details).toBe("internal error (see server log)");
  });

  it("invalidArgument cuts an un-echoed value as a safety net", () => {
    expect(invalidArgument("f", "y", "z".repeat(1000)).message).toMatch(/^f: expected y, got z{160}\.\.\. \(1000 characters\)$/);
  });
});

describe("oneofMember", () => {
  it("returns the one member set, undefined for none, and refuses two", () => {
    expect(oneofMember({ image: Buffer.alloc(1) }, ["image", "tensor"], "input")).toBe("image");
    expect(oneofMember({ image: null, tensor: undefined }, ["image", "tensor"], "input")).toBeUndefined();
    expect(() => oneofMember({ image: Buffer.alloc(1), tensor: {} }, ["image", "tensor"], "input")).toThrow(
      "input: expected exactly one of image, tensor (a oneof), got image and tensor both set",
    );
  });
});
