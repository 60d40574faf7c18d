/**
 * Bring your own model, end to end: the 60-line example of docs/byom.md is trained for one epoch
 * on Fashion-MNIST, exported by the generic exporter into a model repository beside the bundled
 * RANet, served, and classified over gRPC.
 */
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { MODEL_DIR, parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";
import { runCommand } from "../support/runCommand.js";

const PYTHON = "/usr/bin/python3";

// test/globalSetup.ts has checked python3-torch, python3-onnx and python3-jsonschema; a command
// that fails here shows its stderr
describe("bring your own model", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let repo: string;
  beforeAll(async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), "byom-"));
    repo = path.join(work, "repository");
    const example = "examples/three_exit_cnn.py:build";
    const run = (args: string[]) => runCommand(PYTHON, ["-m", "multiexit", ...args], { cwd: "models" });
    await run(["train", "--model", example, "--epochs", "1", "--threads", "2", "--out", path.join(work, "run")]);
    await run([
      "export",
      "--model",
      example,
      "--checkpoint",
      path.join(work, "run", "best.pt"),
      "--out",
      path.join(repo, "three-exit-cnn", "1"),
      "--name",
      "three-exit-cnn",
    ]);
    await run(["validate", path.join(repo, "three-exit-cnn", "1")]);
    // beside the bundled model, as a user's repository would hold it
    mkdirSync(path.join(repo, "ranet-fmnist"), { recursive: true });
    symlinkSync(MODEL_DIR, path.join(repo, "ranet-fmnist", "1"));
    s = await startServer(["--model-repository", repo]);
  }, 300_000);
  afterAll(() => s?.stop());

  it("answers Classify with the new model's exits and FLOPs, beside the bundled one", async () => {
    const { models } = await unary(s.clients.inference, "RepositoryIndex", { ready: true });
    expect(models.map((m) => m.name)).toEqual(["ranet-fmnist", "three-exit-cnn"]);
    const meta = await unary(s.clients.classifier, "GetModelMetadata", { model: "three-exit-cnn" });
    expect(meta.exits).toHaveLength(3);
    const fixtures = parityFixtures(path.join(repo, "three-exit-cnn", "1"));
    for (const f of fixtures) {
      const r = await unary(s.clients.classifier, "Classify", {
        model: "three-exit-cnn",
        tensor: { shape: [1, 28, 28], data: tensorBytes(f.input) },
        options: { exit: 3, return_all_exits: true },
      });
      expect(r.model_name).toBe("three-exit-cnn");
      expect(r.exit).toBe(3);
      expect(Number(r.flops)).toBe(Number(meta.exits[2]!.flops));
      // the last exit's own prediction is PyTorch's
      expect(r.exits.at(-1)!.own_class_index).toBe(f.logits[2]!.indexOf(Math.max(...f.logits[2]!)));
    }
    const ranet = await unary(s.clients.classifier, "Classify", {
      model: "ranet-fmnist",
      tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[0]!.input) },
    });
    expect(ranet.model_name).toBe("ranet-fmnist");
  });
});
