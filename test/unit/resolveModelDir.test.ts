import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveModelDir } from "../../src/model/resolveModelDir.js";

const root = mkdtempSync(path.join(os.tmpdir(), "models-"));
mkdirSync(path.join(root, "v1"));
mkdirSync(path.join(root, "v2"));
writeFileSync(path.join(root, "file"), "x");
const outside = mkdtempSync(path.join(os.tmpdir(), "elsewhere-"));
symlinkSync(outside, path.join(root, "escape"));
symlinkSync(path.join(root, "v2"), path.join(root, "current"));

describe("resolveModelDir", () => {
  it("resolves relative and absolute folders inside the root, following links inside it", async () => {
    expect(await resolveModelDir("v1", root, "unused")).toBe(path.join(root, "v1"));
    expect(await resolveModelDir(path.join(root, "v2"), root, "unused")).toBe(path.join(root, "v2"));
    expect(await resolveModelDir("current", root, "unused")).toBe(path.join(root, "v2"));
  });

  it("uses the fallback (the configured folder) when none is requested", async () => {
    expect(await resolveModelDir("", root, path.join(root, "v1"))).toBe(path.join(root, "v1"));
  });

  it.each([
    ["../", /resolves to/],
    ["escape", /resolves to/],
    ["/etc", /resolves to '\/etc'/],
    ["missing", /'missing' \(ENOENT/],
    ["file", /not a folder/],
  ])("refuses %s with INVALID_ARGUMENT naming model_dir", async (requested, detail) => {
    const err = await resolveModelDir(requested, root, "unused").catch((e) => e);
    expect(err).toMatchObject({ kind: "invalid_argument" });
    expect(err.message).toMatch(new RegExp(`^model_dir: expected a model folder inside ${root}`));
    expect(err.message).toMatch(detail);
  });
});
