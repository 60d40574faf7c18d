import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { referenceDocs } from "../../src/cli/referenceDocs.js";
import { FIELDS } from "../../src/config/config.js";

describe("docs/reference.md", () => {
  it("is current: npm run docs:reference regenerates it from the settings and metrics", async () => {
    expect(readFileSync("docs/reference.md", "utf8")).toBe(await referenceDocs());
  });

  it("lists every setting and every ranet_ metric, and no help text carries a benchmark figure", async () => {
    const text = await referenceDocs();
    for (const key of Object.keys(FIELDS)) expect(text).toContain(`| \`${key}\``);
    expect(text).toContain("| `ranet_request_flops` | histogram | `model`, `version` |");
    for (const [, , help] of Object.values(FIELDS)) expect(help).not.toMatch(/\d\.\d+x|\d+ MiB/);
  });
});
