import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const scripts = readdirSync("bench").filter((f) => f.endsWith(".ts"));
/** Modification times of everything under docs/ (the generated reports live in docs/results). */
const docsTimes = () => Object.fromEntries(readdirSync("docs", { recursive: true, encoding: "utf8" }).map((f) => [f, statSync(`docs/${f}`).mtimeMs]));

// A benchmark takes minutes and rewrites files under docs/: asking it for help must do neither.
describe("bench scripts", () => {
  it.each(scripts)("%s --help prints its usage and runs nothing", async (script) => {
    const docs = docsTimes();
    const { stdout } = await run(process.execPath, ["--import", "tsx", `bench/${script}`, "--help"], { timeout: 30_000 });
    expect(stdout).toMatch(/npm run [\w:-]+/);
    expect(stdout).not.toContain("/**");
    expect(docsTimes()).toEqual(docs);
  });
});
