/**
 * The model repository from outside: several models behind one endpoint, each with its own
 * settings and budget, listed, loaded and unloaded by name through the repository extension,
 * with bad folders and bad names answered clearly and no request of another model lost.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { loadConfig } from "../../src/config/config.js";
import { codeOf, MODEL_DIR, parityFixtures, repositoryOf, startServer, tensorBytes } from "../support/fixtures.js";

const fixtures = parityFixtures();
const tensor = (i = 0) => ({ shape: [1, 28, 28], data: tensorBytes(fixtures[i % fixtures.length]!.input) });

/** ranet-a (target 0.3) and ranet-b (target 0.7), plus folders that cannot be served. */
function testRepository(): string {
  const root = repositoryOf(["ranet-a", "ranet-b", "badconf", "broken"]);
  writeFileSync(path.join(root, "ranet-a", "config.yaml"), "budgetTarget: 0.3\n");
  writeFileSync(path.join(root, "ranet-b", "config.yaml"), "budgetTarget: 0.7\nmaxBatchSize: 16\n");
  writeFileSync(path.join(root, "badconf", "config.yaml"), "maxBatchSize: lots\n");
  writeFileSync(path.join(root, "broken", "1", "manifest.json.tmp"), "");
  writeFileSync(path.join(root, "broken", "1", "manifest.json"), "{ not json");
  mkdirSync(path.join(root, "ranet-a", "latest")); // not a version number: skipped
  mkdirSync(path.join(root, "empty"));
  return root;
}

describe("model repository", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let root: string;
  beforeAll(async () => {
    root = testRepository();
    s = await startServer(["--model-repository", root, "--default-model", "ranet-a"]);
  });
  afterAll(() => s?.stop());

  it("serves every servable model; RepositoryIndex lists every folder with its state and reason", async () => {
    const { models } = await unary(s.clients.inference, "RepositoryIndex", {});
    const byName = Object.fromEntries(models.map((m: any) => [m.name, m]));
    expect(byName["ranet-a"]).toMatchObject({ version: "1", state: "READY" });
    expect(byName["ranet-b"]).toMatchObject({ version: "1", state: "READY" });
    expect(byName.badconf).toMatchObject({ state: "UNAVAILABLE", reason: expect.stringMatching(/badconf\/config\.yaml: key 'maxBatchSize'/) });
    expect(byName.broken).toMatchObject({ version: "1", state: "UNAVAILABLE", reason: expect.stringMatching(/manifest/) });
    expect(byName.empty).toMatchObject({ state: "UNAVAILABLE", reason: expect.stringMatching(/^no version folder/) });
    const ready = await unary(s.clients.inference, "RepositoryIndex", { ready: true });
    expect(ready.models.map((m: any) => m.name)).toEqual(["ranet-a", "ranet-b"]);
    expect((await unary(s.clients.inference, "ModelReady", { name: "ranet-b" })).ready).toBe(true);
    expect((await unary(s.clients.inference, "ModelReady", { name: "broken" })).ready).toBe(false);
    // health per model: service "model/<name>"
    expect((await unary(s.clients.health, "Check", { service: "model/ranet-b" })).status).toBe("SERVING");
    expect((await unary(s.clients.health, "Check", { service: "model/broken" })).status).toBe("NOT_SERVING");
  });

  it("routes Classify and ModelInfer by model name and version; unknown names are NOT_FOUND listing the served models", async () => {
    for (const model of ["ranet-a", "ranet-b"]) {
      const r = await unary(s.clients.classifier, "Classify", { model, tensor: tensor() });
      expect(r).toMatchObject({ model_name: model, model_version: "1" });
      const o = await unary(s.clients.inference, "ModelInfer", {
        model_name: model,
        inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
        raw_input_contents: [tensorBytes(fixtures[0]!.input)],
      });
      expect(o.model_name).toBe(model);
    }
    expect((await unary(s.clients.classifier, "Classify", { tensor: tensor() })).model_name).toBe("ranet-a"); // the default model
    expect(await codeOf(unary(s.clients.classifier, "Classify", { model: "resnet", tensor: tensor() }))).toBe(
      "NOT_FOUND: model: 'resnet' is not served here; served models: 'ranet-a', 'ranet-b'",
    );
    expect(await codeOf(unary(s.clients.classifier, "Classify", { model: "ranet-b", model_version: "7", tensor: tensor() }))).toBe(
      "NOT_FOUND: model_version: '7' of model 'ranet-b' is not served; served versions: '1'",
    );
    expect(await codeOf(unary(s.clients.classifier, "Classify", { model: "x".repeat(5000), tensor: tensor() }))).toMatch(/\(5000 characters\)/);
    const meta = await unary(s.clients.inference, "ModelConfig", { name: "ranet-b" });
    expect(meta.config?.max_batch_size).toBe(16); // its config.yaml
    expect((await unary(s.clients.inference, "ModelConfig", { name: "ranet-a" })).config?.max_batch_size).toBe(32);
  });

  it("holds a budget per model: SetBudget on one changes only that model", async () => {
    const get = (model: string) => unary(s.clients.budget, "GetBudget", { model });
    expect((await get("ranet-a")).target_fraction).toBeCloseTo(0.3, 5);
    expect((await get("ranet-b")).target_fraction).toBeCloseTo(0.7, 5);
    const before = await get("ranet-b");
    await unary(s.clients.budget, "SetBudget", { model: "ranet-a", target_fraction: 0.4 });
    expect((await get("ranet-a")).target_fraction).toBeCloseTo(0.4, 5);
    const after = await get("ranet-b");
    expect(after.target_fraction).toBe(before.target_fraction);
    expect(after.thresholds).toEqual(before.thresholds);
    expect((await get("")).target_fraction).toBeCloseTo(0.4, 5); // empty = the default model
    expect(await codeOf(get("nope"))).toMatch(/^NOT_FOUND: model: 'nope' is not served here/);
  });

  it("loads and unloads by name on the admin listener, answering the model's admitted requests and failing none of another's", async () => {
    const admin = s.clients.adminInference;
    // names, never paths
    for (const bad of ["../ranet-a", "a/b", "ranet\u0000a", "..", ""]) {
      expect(await codeOf(unary(admin, "RepositoryModelLoad", { model_name: bad }))).toMatch(/^INVALID_ARGUMENT: model_name: expected a model name/);
    }
    expect(await codeOf(unary(admin, "RepositoryModelLoad", { model_name: "nothere" }))).toMatch(/^NOT_FOUND: model_name: no folder 'nothere'/);
    // the public listener does not serve the repository extension's load and unload
    const pub = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, undefined, `127.0.0.1:${s.app.grpcPort}`);
    expect(await codeOf(unary(pub.adminInference, "RepositoryModelUnload", { model_name: "ranet-b" }))).toMatch(/^UNIMPLEMENTED/);
    pub.close();

    // steady traffic to ranet-a while ranet-b is unloaded and loaded again
    let stop = false;
    const failures: string[] = [];
    let answered = 0;
    const loopA = (async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        await unary(s.clients.classifier, "Classify", { model: "ranet-a", tensor: tensor(i) }).then(
          () => answered++,
          (e: grpc.ServiceError) => failures.push(e.details),
        );
      }
    })();
    try {
      // requests of ranet-b in flight when the unload comes: the admitted ones are answered, later ones are NOT_FOUND
      const pipelineB = s.app.models.resolve("ranet-b", "").current.pipeline;
      const inflightB = Array.from({ length: 200 }, (_, i) => codeOf(unary(s.clients.classifier, "Classify", { model: "ranet-b", tensor: tensor(i) })));
      for (let i = 0; i < 500 && pipelineB.inflightCount === 0; i++) await new Promise((r) => setTimeout(r, 2));
      const admitted = pipelineB.inflightCount;
      expect(admitted).toBeGreaterThan(0);
      await unary(admin, "RepositoryModelUnload", { model_name: "ranet-b" });
      const codes = await Promise.all(inflightB);
      expect(codes.filter((c) => c === "OK").length).toBeGreaterThanOrEqual(admitted);
      expect(codes.filter((c) => c !== "OK" && !c.startsWith("NOT_FOUND: model: 'ranet-b' is not served here"))).toEqual([]);
      expect(await codeOf(unary(s.clients.classifier, "Classify", { model: "ranet-b", tensor: tensor() }))).toMatch(/^NOT_FOUND/);
      const index = (await unary(s.clients.inference, "RepositoryIndex", {})).models.find((m: any) => m.name === "ranet-b");
      expect(index).toMatchObject({ state: "UNAVAILABLE", reason: "unloaded" });
      await unary(admin, "RepositoryModelLoad", { model_name: "ranet-b" });
      expect((await unary(s.clients.classifier, "Classify", { model: "ranet-b", tensor: tensor() })).model_name).toBe("ranet-b");
      // a broken new version: the load fails and version 1 keeps serving
      const v2 = path.join(root, "ranet-b", "2");
      mkdirSync(v2);
      writeFileSync(path.join(v2, "manifest.json"), JSON.stringify({ format: "staged-multi-exit/v1", name: "ranet-b", version: "2" }));
      expect(await codeOf(unary(admin, "RepositoryModelLoad", { model_name: "ranet-b" }))).toMatch(
        /^FAILED_PRECONDITION: model 'ranet-b': version 2: .*keeps serving/,
      );
      expect((await unary(s.clients.classifier, "Classify", { model: "ranet-b", tensor: tensor() })).model_version).toBe("1");
      // a good version 2 (the same files): latest-1 serves it and retires version 1
      for (const f of [
        "stage1.onnx",
        "stage2.onnx",
        "stage3.onnx",
        "stage4.onnx",
        "stage5.onnx",
        "stage6.onnx",
        "fused.onnx",
        "calibration.json",
        "calibration.bin",
      ]) {
        symlinkSync(path.join(MODEL_DIR, f), path.join(v2, f));
      }
      const manifest = JSON.parse(readFileSync(path.join(MODEL_DIR, "manifest.json"), "utf8"));
      delete manifest.evaluation;
      writeFileSync(path.join(v2, "manifest.json"), JSON.stringify({ ...manifest, name: "ranet-b", version: "2" }));
      await unary(admin, "RepositoryModelLoad", { model_name: "ranet-b" });
      expect((await unary(s.clients.classifier, "Classify", { model: "ranet-b", tensor: tensor() })).model_version).toBe("2");
      expect((await unary(s.clients.budget, "GetBudget", { model: "ranet-b" })).target_fraction).toBeCloseTo(0.7, 5); // carried over
    } finally {
      stop = true;
      await loopA;
    }
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(0);
  });
});

describe("model repository start and control modes", () => {
  it("explicit mode serves only the models named at start", async () => {
    const s = await startServer(["--model-repository", repositoryOf(["m1", "m2"]), "--model-control-mode", "explicit", "--load-model", "m2"]);
    try {
      const { models } = await unary(s.clients.inference, "RepositoryIndex", {});
      expect(models.map((m: any) => [m.name, m.state, m.reason])).toEqual([
        ["m1", "UNAVAILABLE", "not loaded"],
        ["m2", "READY", ""],
      ]);
      await unary(s.clients.adminInference, "RepositoryModelLoad", { model_name: "m1" });
      expect((await unary(s.clients.classifier, "Classify", { model: "m1", tensor: tensor() })).model_name).toBe("m1");
    } finally {
      await s.stop();
    }
  });

  it("strictModelStart makes a model that cannot load fatal; otherwise the others serve", async () => {
    const root = repositoryOf(["good", "bad"]);
    writeFileSync(path.join(root, "bad", "1", "manifest.json"), "[]");
    await expect(startServer(["--model-repository", root, "--strict-model-start", "true"])).rejects.toThrow(/bad: /);
    const s = await startServer(["--model-repository", root]);
    await s.stop();
  });

  it("refuses settings that contradict each other", () => {
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--model-repository", "x"], {})).toThrow(/'modelDir' and 'modelRepository' exclude each other/);
    expect(() => loadConfig(["--load-model", "a"], {})).toThrow(/'loadModel' needs 'modelControlMode' explicit/);
    expect(loadConfig(["--model-control-mode", "explicit", "--load-model", "a", "--load-model", "b"], {})).toMatchObject({ loadModel: ["a", "b"] });
  });
});

describe("models sharing the engine", () => {
  it("a quiet model is not refused while another is flooded; the flooded one's excess is RESOURCE_EXHAUSTED", async () => {
    const root = repositoryOf(["flooded", "quiet"]);
    writeFileSync(path.join(root, "flooded", "config.yaml"), "maxQueueSize: 64\nmaxQueueWaitMs: 50\n");
    const s = await startServer(["--model-repository", root]);
    try {
      const heavy = (i: number) => ({ model: "flooded", tensor: tensor(i), options: { exit: 6 } });
      const flood = Array.from({ length: 1500 }, (_, i) => codeOf(unary(s.clients.classifier, "Classify", heavy(i))));
      const quiet: string[] = [];
      for (let i = 0; i < 30; i++) quiet.push(await codeOf(unary(s.clients.classifier, "Classify", { model: "quiet", tensor: tensor(i) })));
      const flooded = await Promise.all(flood);
      expect(quiet).toEqual(Array(30).fill("OK"));
      expect(flooded.filter((c) => c.startsWith("RESOURCE_EXHAUSTED")).length).toBeGreaterThan(0);
      expect(flooded.filter((c) => c !== "OK" && !c.startsWith("RESOURCE_EXHAUSTED"))).toEqual([]);
      // one set of engine workers serves both models
      expect(s.app.models.resolve("quiet", "").current.workers).toBe(s.app.models.resolve("flooded", "").current.workers);
    } finally {
      await s.stop();
    }
  });
});

describe("the bundled repository", () => {
  it("npm start's default serves every bundled model; each answers Classify and ModelInfer with its own exits and FLOPs", async () => {
    const s = await startServer(["--model-repository", "models/repository"]);
    try {
      const { models } = await unary(s.clients.inference, "RepositoryIndex", { ready: true });
      const names = models.map((m) => m.name);
      expect(names).toEqual(expect.arrayContaining(["msdnet-fmnist", "ranet-fmnist"]));
      for (const name of names) {
        const meta = await unary(s.clients.classifier, "GetModelMetadata", { model: name });
        const last = meta.exits.length;
        const r = await unary(s.clients.classifier, "Classify", { model: name, tensor: tensor(), options: { exit: last } });
        expect(r).toMatchObject({ model_name: name, exit: last });
        expect(Number(r.flops)).toBe(Number(meta.exits.at(-1)!.flops));
        const o = await unary(s.clients.inference, "ModelInfer", {
          model_name: name,
          parameters: { exit: { int64_param: 1 } },
          inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
          raw_input_contents: [tensorBytes(fixtures[0]!.input)],
        });
        expect(o.model_name).toBe(name);
      }
      const flops = await Promise.all(
        names.map(async (n) => (await unary(s.clients.classifier, "GetModelMetadata", { model: n })).exits.map((e) => Number(e.flops))),
      );
      expect(flops[0]).not.toEqual(flops[1]); // each model its own exits
    } finally {
      await s.stop();
    }
  });
});
