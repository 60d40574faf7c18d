import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** README.md, CHANGELOG.md and every Markdown file under docs/ and examples/. */
const pages = [
  "README.md",
  "CHANGELOG.md",
  ...["docs", "examples"].flatMap((dir) =>
    readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".md"))
      .map((f) => path.join(dir, f)),
  ),
];

describe("documentation links", () => {
  it.each(pages)("every relative link and image in %s points at a file that exists", (page) => {
    const text = readFileSync(page, "utf8");
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t));
    const missing = targets.filter((t) => !existsSync(path.join(path.dirname(page), decodeURIComponent(t.split("#")[0]!))));
    expect(missing).toEqual([]);
  });
});
