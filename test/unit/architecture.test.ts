/**
 * The shape of src/ (docs/architecture.md): layers import only downwards, one module talks to
 * onnxruntime-node, and files stay small.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** Lowest first: a module may import its own layer and the layers below it, never above. */
const LAYERS: string[][] = [
  ["core", "generated"],
  ["config", "format", "input", "scoring", "metrics"],
  ["engine"],
  ["scheduler"],
  ["pipeline"],
  ["budget"],
  ["model"],
  ["oip"],
  ["grpc", "rest"],
  ["cli"],
  [".", "app"], // the composition root: main.ts, app.ts and app/ (its parts), logger.ts, version.ts
];

const layerOf = (file: string) => {
  const top = path.relative("src", file).split(path.sep);
  const folder = top.length > 1 ? top[0]! : ".";
  const i = LAYERS.findIndex((l) => l.includes(folder));
  if (i < 0) throw new Error(`${file}: folder '${folder}' is in no layer (add it to LAYERS and docs/architecture.md)`);
  return i;
};

function sources(dir = "src"): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return p === path.join("src", "generated") ? [] : sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1]!);

describe("architecture", () => {
  const files = sources();

  it("imports only from its own layer or below", () => {
    const upward: string[] = [];
    for (const f of files) {
      for (const spec of importsOf(f).filter((s) => s.startsWith("."))) {
        const target = path.normalize(path.join(path.dirname(f), spec));
        if (layerOf(target) > layerOf(f)) upward.push(`${f} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has one module that imports onnxruntime-node", () => {
    expect(files.filter((f) => importsOf(f).includes("onnxruntime-node"))).toEqual([path.join("src", "engine", "ortWorker.ts")]);
  });

  it("keeps the benchmark's raw onnxruntime baseline free of the server (no src/engine or src/pipeline)", () => {
    const raw = ["bench/lib/rawEngine.ts", "bench/lib/rawOrtWorker.ts"];
    for (const f of raw) {
      const ours = importsOf(f)
        .filter((s) => s.startsWith("."))
        .map((s) => path.normalize(path.join(path.dirname(f), s)));
      expect(ours.filter((t) => t.startsWith(path.join("src", "engine")) || t.startsWith(path.join("src", "pipeline")))).toEqual([]);
    }
    expect(importsOf("bench/lib/rawOrtWorker.ts")).toContain("onnxruntime-node");
  });

  it("keeps every source file under 300 lines", () => {
    const long = files.map((f) => ({ f, lines: readFileSync(f, "utf8").split("\n").length })).filter((x) => x.lines > 300);
    expect(long).toEqual([]);
  });
});
