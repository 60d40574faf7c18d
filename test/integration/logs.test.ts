import pino from "pino";
import { describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { makeClients, unary } from "../../src/cli/clients.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { MODEL_DIR, parityFixtures, tensorBytes } from "../support/fixtures.js";

/** Top-level keys of a JSON object line, in order, duplicates kept (JSON.parse would hide them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === "\\" ? 2 : 1;
      if (depth === 1 && line[j + 1] === ":") keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return keys;
}

describe("logs", () => {
  it("never repeat a key in a line, at debug level through requests, a bad request, a reload and shutdown", async () => {
    const lines: string[] = [];
    const log = pino({ level: "debug" }, { write: (l: string) => void lines.push(l.trim()) });
    const config = loadConfig(
      ["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--metrics-enabled", "false", "--model-dir", MODEL_DIR],
      {},
    ) as Config;
    const app = await startApp(config, log);
    const c = makeClients(`127.0.0.1:${app.grpcPort}`, {}, undefined, `127.0.0.1:${app.adminPort}`);
    const t = { shape: [1, 28, 28], data: tensorBytes(parityFixtures()[0]!.input) };
    await Promise.all(Array.from({ length: 20 }, () => unary(c.classifier, "Classify", { tensor: t })));
    await unary(c.classifier, "Classify", { tensor: { shape: [2], values: [1, 2] } }).catch(() => {});
    await unary(c.modelAdmin, "ReloadModel", { model_dir: "" });
    await unary(c.modelAdmin, "ReloadModel", { model_dir: "missing" }).catch(() => {});
    c.close();
    await app.shutdown();
    expect(lines.length).toBeGreaterThan(10);
    const repeated = lines.flatMap((l) => {
      const keys = topLevelKeys(l);
      const dup = keys.filter((k, i) => keys.indexOf(k) !== i);
      return dup.length ? [`${dup.join(",")}: ${l.slice(0, 200)}`] : [];
    });
    expect(repeated).toEqual([]);
    expect(topLevelKeys('{"a":1,"b":{"a":2},"a":3}')).toEqual(["a", "b", "a"]); // the check itself sees a repeat
  });
});
