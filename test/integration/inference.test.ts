import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { argmax } from "../../src/scoring/softmax.js";
import { codeOf, parityFixtures, pngOf, startServer, tensorBytes } from "../support/fixtures.js";
import { decodeOutputs } from "../support/oipOutputs.js";

type Server = Awaited<ReturnType<typeof startServer>>;
const fixtures = parityFixtures();

describe("Open Inference Protocol (KServe v2) front door", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer(["--controller", "false"]);
  });
  afterAll(() => s.stop());

  it("answers liveness, readiness and metadata", async () => {
    const inf = s.clients.inference;
    const name = s.app.models.current.classifier.name;
    expect((await unary(inf, "ServerLive", {})).live).toBe(true);
    expect((await unary(inf, "ServerReady", {})).ready).toBe(true);
    expect((await unary(inf, "ModelReady", { name })).ready).toBe(true);
    // as Triton answers: an unknown model or version is not ready (no error)
    expect((await unary(inf, "ModelReady", { name: "other" })).ready).toBe(false);
    expect((await unary(inf, "ModelReady", { name, version: "99" })).ready).toBe(false);
    expect((await unary(inf, "ServerMetadata", {})).extensions).toContain("parameters");
    const md = await unary(inf, "ModelMetadata", { name });
    // one name per input form
    expect(md.inputs).toEqual([
      { name: "image", datatype: "FP32", shape: [-1, 1, 28, 28] },
      { name: "image_bytes", datatype: "BYTES", shape: [-1] },
    ]);
    expect(md.outputs.map((o: { name: string }) => o.name)).toEqual([
      "class",
      "label",
      "confidence",
      "exit",
      "flops",
      "probabilities",
      "exit_classes",
      "exit_confidences",
    ]);
  });

  it("infers a batch from raw_input_contents (N=4) and from typed contents (N=1)", async () => {
    const name = s.app.models.current.classifier.name;
    const batch = fixtures.slice(0, 4);
    const res = await unary(s.clients.inference, "ModelInfer", {
      model_name: name,
      id: "req-1",
      inputs: [{ name: "image", datatype: "FP32", shape: [4, 1, 28, 28] }],
      raw_input_contents: [tensorBytes(batch.flatMap((f) => f.input))],
      parameters: { exit: { int64_param: 6 } },
    });
    expect(res.id).toBe("req-1");
    const out = decodeOutputs(res);
    expect(out.class!.shape).toEqual([4]);
    expect(out.probabilities!.shape).toEqual([4, 10]);
    expect(out.exit!.values).toEqual([6, 6, 6, 6]);
    expect(out.class!.values).toEqual(batch.map((f) => argmax(f.logits[5]!)));
    expect(out.label!.values).toEqual(batch.map((f) => s.app.models.current.classifier.labels[argmax(f.logits[5]!)]));
    const typed = await unary(s.clients.inference, "ModelInfer", {
      model_name: name,
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], contents: { fp32_contents: fixtures[0]!.input } }],
      outputs: [{ name: "class" }, { name: "flops" }],
      parameters: { exit: { int64_param: 1 } },
    });
    const t = decodeOutputs(typed);
    expect(Object.keys(t)).toEqual(["class", "flops"]);
    expect(t.class!.values).toEqual([argmax(fixtures[0]!.logits[0]!)]);
    expect(t.flops!.values).toEqual([s.app.models.current.classifier.exitFlops[0]]);
  });

  it("returns every exit's answer with return_all_exits or by naming the per-exit outputs", async () => {
    const name = s.app.models.current.classifier.name;
    const exits = s.app.models.current.classifier.exitFlops.length;
    const input = { name: "image", datatype: "FP32", shape: [1, 1, 28, 28], contents: { fp32_contents: fixtures[0]!.input } };
    const all = decodeOutputs(
      await unary(s.clients.inference, "ModelInfer", {
        model_name: name,
        inputs: [input],
        parameters: { exit: { int64_param: 3 }, return_all_exits: { bool_param: true } },
      }),
    );
    expect(all.exit_classes!.shape).toEqual([1, exits]);
    // exits 1-3 ran (the class each would answer), the rest did not (-1)
    expect(all.exit_classes!.values.slice(3)).toEqual(Array(exits - 3).fill(-1));
    expect(all.exit_classes!.values[2]).toBe(all.class!.values[0]);
    expect(all.exit_confidences!.values[2]).toBeCloseTo(all.confidence!.values[0] as number, 6);
    const named = decodeOutputs(
      await unary(s.clients.inference, "ModelInfer", {
        model_name: name,
        inputs: [input],
        outputs: [{ name: "exit_confidences" }],
        parameters: { exit: { int64_param: 2 } },
      }),
    );
    expect(Object.keys(named)).toEqual(["exit_confidences"]);
    expect((named.exit_confidences!.values as number[]).filter((v) => v >= 0)).toHaveLength(2);
    const plain = decodeOutputs(await unary(s.clients.inference, "ModelInfer", { model_name: name, inputs: [input] }));
    expect(Object.keys(plain)).toEqual(["class", "label", "confidence", "exit", "flops", "probabilities"]);
  });

  it("accepts encoded images as BYTES and a per-request FLOPs budget in parameters", async () => {
    const imgs = await Promise.all(fixtures.slice(0, 3).map((f) => pngOf(f.pixels)));
    const budget = s.app.models.current.classifier.exitFlops[2]!;
    const res = await unary(s.clients.inference, "ModelInfer", {
      model_name: s.app.models.current.classifier.name,
      inputs: [{ name: "image", datatype: "BYTES", shape: [3], contents: { bytes_contents: imgs } }],
      parameters: { flops_budget: { int64_param: budget } },
    });
    const out = decodeOutputs(res);
    expect(out.exit!.values.every((e) => (e as number) <= 3)).toBe(true);
    expect(out.flops!.values.every((f) => (f as number) <= budget)).toBe(true);
  });

  it("rejects bad requests with INVALID_ARGUMENT naming the field", async () => {
    const name = s.app.models.current.classifier.name;
    const infer = (req: unknown) => codeOf(unary(s.clients.inference, "ModelInfer", { model_name: name, ...(req as object) }));
    expect(await infer({ inputs: [{ name: "image", datatype: "INT32", shape: [1, 1, 28, 28] }], raw_input_contents: [Buffer.alloc(3136)] })).toBe(
      "INVALID_ARGUMENT: inputs[0].datatype: expected FP32 (normalised tensor), UINT8 (pixels) or BYTES (encoded images), got 'INT32'",
    );
    expect(await infer({ inputs: [{ name: "image", datatype: "FP32", shape: [2, 1, 28, 28] }], raw_input_contents: [Buffer.alloc(3136)] })).toBe(
      "INVALID_ARGUMENT: raw_input_contents[0]: expected 6272 bytes (FP32 [2,1,28,28]), got 3136 bytes",
    );
    expect(await infer({ inputs: [{ name: "pixels", datatype: "FP32", shape: [1, 1, 28, 28] }] })).toBe(
      "INVALID_ARGUMENT: inputs[0].name: expected 'image' (FP32 or UINT8) or 'image_bytes' (BYTES), got 'pixels'",
    );
    expect(await infer({ inputs: [{ name: "image", datatype: "FP32", shape: [1, 3, 28, 28] }] })).toMatch(
      /^INVALID_ARGUMENT: inputs\[0\].shape: expected \[N,1,28,28\]/,
    );
    expect(
      await infer({
        inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
        raw_input_contents: [Buffer.alloc(3136)],
        parameters: { speed: { bool_param: true } },
      }),
    ).toBe("INVALID_ARGUMENT: parameters: expected only flops_budget, exit, anytime, return_all_exits, timeout, priority, got 'speed'");
    expect(await codeOf(unary(s.clients.inference, "ModelInfer", { model_name: "nope", inputs: [] }))).toMatch(/^NOT_FOUND/);
  });
});
