import { cpSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { codeOf, MODEL_DIR, parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";
import { spawnServer } from "../support/serverProcess.js";

const fixture = parityFixtures()[0]!;
const req = { tensor: { shape: [1, 28, 28], data: tensorBytes(fixture.input) } };

/** A model root with versions v1 and v2 of the bundled model (v2 relabelled "2") and a broken one. */
function modelRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "model-root-"));
  for (const v of ["v1", "v2", "broken"]) cpSync(MODEL_DIR, path.join(root, v), { recursive: true });
  const manifest = path.join(root, "v2", "manifest.json");
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, "utf8")), version: "2" }));
  writeFileSync(path.join(root, "broken", "stage4.onnx"), Buffer.from("truncated"));
  return root;
}

const until = async (cond: () => boolean, what: string, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("model reload (ModelAdmin/ReloadModel)", () => {
  const root = modelRoot();
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer(["--model-dir", path.join(root, "v1"), "--max-queue-delay-ms", "5"]);
  });
  afterAll(() => s.stop());

  it("swaps versions under steady load without failing a request, and carries the budget target over", async () => {
    await unary(s.clients.budget, "SetBudget", { target_fraction: 0.35 });
    let stop = false;
    const versions: Record<string, number> = {};
    const failures: string[] = [];
    const client = async () => {
      while (!stop) {
        try {
          const r = await unary(s.clients.classifier, "Classify", req, 10_000);
          versions[r.model_version] = (versions[r.model_version] ?? 0) + 1;
        } catch (e) {
          failures.push(String((e as Error).message));
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await until(() => (versions["1"] ?? 0) > 50, "load on v1");
    const r = await unary(s.clients.modelAdmin, "ReloadModel", { model_dir: "v2" });
    expect(r.previous!.version).toBe("1");
    expect(r.current).toMatchObject({ name: "ranet-fmnist", version: "2", dir: path.join(root, "v2"), execution_provider: "cpu" });
    expect(r.current!.exit_flops).toHaveLength(6);
    expect(r.load_ms).toBeGreaterThan(0);
    await until(() => (versions["2"] ?? 0) > 50, "load on v2");
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect((await unary(s.clients.modelAdmin, "GetModel", {})).version).toBe("2");
    const meta = await unary(s.clients.classifier, "GetModelMetadata", {});
    expect(meta.version).toBe("2");
    expect((await unary(s.clients.budget, "GetBudget", {})).target_fraction).toBeCloseTo(0.35, 6);
  });

  it("keeps serving the current version when the new one cannot load", async () => {
    const before = await unary(s.clients.modelAdmin, "GetModel", {});
    const failed = await codeOf(unary(s.clients.modelAdmin, "ReloadModel", { model_dir: "broken" }));
    expect(failed).toMatch(/^FAILED_PRECONDITION: cannot load the model in .*broken: cannot load stage .*stage4\.onnx.*the previous version keeps serving$/);
    expect(await unary(s.clients.modelAdmin, "GetModel", {})).toEqual(before);
    expect((await unary(s.clients.classifier, "Classify", req)).model_version).toBe(before.version);
    const metrics = await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/ranet_model_reloads_total\{result="failure"\} 1/);
    expect(metrics).toMatch(/ranet_model_reloads_total\{result="success"\} 1/);
    expect(metrics).toMatch(new RegExp(`ranet_model_info\\{model="ranet-fmnist",version="${before.version}",execution_provider="cpu"\\} 1`));
  });

  it("refuses folders outside the model root with INVALID_ARGUMENT naming model_dir", async () => {
    expect(await codeOf(unary(s.clients.modelAdmin, "ReloadModel", { model_dir: "../../etc" }))).toMatch(
      new RegExp(`^INVALID_ARGUMENT: model_dir: expected a model folder inside ${root}, got '../../etc'`),
    );
    expect(await codeOf(unary(s.clients.modelAdmin, "ReloadModel", { model_dir: "v9" }))).toMatch(/^INVALID_ARGUMENT: model_dir: .*got 'v9' \(ENOENT/);
  });
});

describe("model reload on SIGHUP", () => {
  it("reloads the configured folder (a link flipped to a new version) and survives a broken one", async () => {
    const root = modelRoot();
    const current = path.join(root, "current");
    symlinkSync(path.join(root, "v1"), current);
    const p = spawnServer(["--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--model-dir", current]);
    const { grpcPort } = await p.serving;
    const c = makeClients(`127.0.0.1:${grpcPort}`, {}, undefined, `127.0.0.1:${(await p.serving).adminPort}`);
    try {
      expect((await unary(c.classifier, "Classify", req)).model_version).toBe("1");
      const flip = (to: string) => {
        symlinkSync(path.join(root, to), `${current}.new`);
        renameSync(`${current}.new`, current); // atomic, as a deploy tool would do it
      };
      flip("v2");
      p.proc.kill("SIGHUP");
      await until(() => p.lines.some((l) => l.msg?.startsWith("model reloaded")), "the reload log line");
      expect((await unary(c.classifier, "Classify", req)).model_version).toBe("2");
      flip("broken");
      p.proc.kill("SIGHUP");
      await until(() => p.lines.some((l) => l.msg?.startsWith("model reload failed")), "the failure log line");
      expect(p.lines.find((l) => l.msg?.startsWith("model reload failed")).err.message).toMatch(/stage4\.onnx/);
      expect((await unary(c.classifier, "Classify", req)).model_version).toBe("2");
    } finally {
      c.close();
      expect(await p.stop()).toBe(0);
    }
  });
});
