/**
 * The Open Inference Protocol as Triton's and KServe's tools use it, through a client built
 * only from the protocol files (proto/inference: the KServe v2 core, and Triton's model
 * configuration, statistics and repository messages), none of the server's code.
 */
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argmax } from "../../src/scoring/softmax.js";
import { parityFixtures, pngOf, startServer, tensorBytes } from "../support/fixtures.js";

const fixtures = parityFixtures().slice(0, 4);
const N = fixtures.length;

function oipClient(address: string): grpc.Client & Record<string, any> {
  const def = protoLoader.loadSync("inference/grpc_service.proto", {
    includeDirs: [path.resolve("proto")],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
}

function call<T = any>(client: any, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](req, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`,
  );

/** Triton's BYTES layout: 4-byte little-endian lengths, then the bytes. */
function strings(b: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < b.length; ) {
    const len = b.readUInt32LE(off);
    out.push(b.subarray(off + 4, off + 4 + len).toString("utf8"));
    off += 4 + len;
  }
  return out;
}

describe("Open Inference Protocol with Triton's extensions", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let c: grpc.Client & Record<string, any>;
  const model = "ranet-fmnist";
  beforeAll(async () => {
    s = await startServer(["--exit-score", "max-softmax", "--max-batch-size", "16", "--max-queue-delay-ms", "3"]);
    c = oipClient(`127.0.0.1:${s.app.grpcPort}`);
  });
  afterAll(async () => {
    c.close();
    await s.stop();
  });

  const infer = (inputs: unknown[], raw: Buffer[], extra: Record<string, unknown> = {}) =>
    call(c, "ModelInfer", {
      model_name: model,
      inputs,
      raw_input_contents: raw,
      outputs: [{ name: "class" }, { name: "exit" }],
      parameters: { exit: { int64_param: 3 } },
      ...extra,
    });
  const classesAndExits = (r: any) => ({
    classes: Array.from({ length: r.outputs[0].shape[0] }, (_, i) => Number(r.raw_output_contents[0].readBigInt64LE(i * 8))),
    exits: Array.from({ length: r.outputs[1].shape[0] }, (_, i) => r.raw_output_contents[1].readInt32LE(i * 4)),
  });

  it("lists one name per input, and serves either", async () => {
    const md = await call(c, "ModelMetadata", { name: model });
    const names = md.inputs.map((i: { name: string }) => i.name);
    expect(new Set(names).size).toBe(names.length);
    expect(md.inputs).toEqual([
      { name: "image", datatype: "FP32", shape: [-1, 1, 28, 28] },
      { name: "image_bytes", datatype: "BYTES", shape: [-1] },
    ]);
    const imgs = await Promise.all(fixtures.map((f) => pngOf(f.pixels)));
    const r = await call(c, "ModelInfer", {
      model_name: model,
      inputs: [{ name: "image_bytes", datatype: "BYTES", shape: [N], contents: { bytes_contents: imgs } }],
    });
    expect(r.outputs[0]).toMatchObject({ name: "class", shape: [N] });
  });

  it("takes UINT8 pixels in NCHW, NHWC and NHW layouts, with the same answers as the normalised FP32 tensor", async () => {
    const fp32 = classesAndExits(
      await infer([{ name: "image", datatype: "FP32", shape: [N, 1, 28, 28] }], [Buffer.concat(fixtures.map((f) => tensorBytes(f.input)))]),
    );
    expect(fp32.classes).toEqual(fixtures.map((f) => argmax(f.logits[2]!)));
    const pixels = Buffer.from(fixtures.flatMap((f) => f.pixels));
    for (const shape of [
      [N, 1, 28, 28],
      [N, 28, 28, 1],
      [N, 28, 28],
    ]) {
      expect(classesAndExits(await infer([{ name: "image", datatype: "UINT8", shape }], [pixels])), `UINT8 [${shape}]`).toEqual(fp32);
    }
    // uint_contents instead of raw bytes
    const viaContents = await infer([{ name: "image", datatype: "UINT8", shape: [N, 28, 28], contents: { uint_contents: [...pixels] } }], []);
    expect(classesAndExits(viaContents)).toEqual(fp32);
    expect(await codeOf(infer([{ name: "image", datatype: "UINT8", shape: [N, 28, 28] }], [pixels.subarray(1)]))).toMatch(
      /^INVALID_ARGUMENT: raw_input_contents\[0\]: expected 3136 bytes/,
    );
    expect(await codeOf(infer([{ name: "image", datatype: "UINT8", shape: [N, 28, 27] }], [pixels]))).toMatch(
      /^INVALID_ARGUMENT: inputs\[0\]\.shape: expected UINT8 pixels \[N,1,28,28\], \[N,28,28,1\], or \[N,28,28\]/,
    );
  });

  it("answers the classification extension with '<value>:<index>:<label>' strings", async () => {
    const r = await call(c, "ModelInfer", {
      model_name: model,
      inputs: [{ name: "image", datatype: "FP32", shape: [N, 1, 28, 28] }],
      raw_input_contents: [Buffer.concat(fixtures.map((f) => tensorBytes(f.input)))],
      outputs: [{ name: "probabilities", parameters: { classification: { int64_param: 3 } } }, { name: "probabilities" }],
    });
    expect(r.outputs[0]).toMatchObject({ name: "probabilities", datatype: "BYTES", shape: [N, 3] });
    const labels = (await call(c, "ModelConfig", { name: model })).config.parameters.labels.string_value.split(",");
    const top = strings(r.raw_output_contents[0]);
    expect(top).toHaveLength(N * 3);
    for (let i = 0; i < N; i++) {
      const probs = Array.from({ length: 10 }, (_, j) => r.raw_output_contents[1].readFloatLE((i * 10 + j) * 4));
      const order = probs.map((_, j) => j).sort((a, b) => probs[b]! - probs[a]!);
      for (let k = 0; k < 3; k++) {
        const [value, index, label] = top[i * 3 + k]!.split(":");
        expect(Number(index)).toBe(order[k]);
        expect(label).toBe(labels[order[k]!]);
        expect(Number(value)).toBeCloseTo(probs[order[k]!]!, 5);
      }
    }
    expect((await call(c, "ServerMetadata", {})).extensions).toEqual(expect.arrayContaining(["classification", "model_configuration", "statistics"]));
    expect(
      await codeOf(call(c, "ModelInfer", { model_name: model, inputs: [], outputs: [{ name: "exit", parameters: { classification: { int64_param: 2 } } }] })),
    ).toMatch(/^INVALID_ARGUMENT: outputs\[0\]\.parameters\.classification: expected on the 'probabilities' output/);
  });

  it("reads a model configuration that matches the metadata and the server's settings", async () => {
    const { config } = await call(c, "ModelConfig", { name: model });
    const md = await call(c, "ModelMetadata", { name: model });
    expect(config).toMatchObject({ name: model, max_batch_size: 16, platform: "onnxruntime_staged" });
    const type: Record<string, string> = { FP32: "TYPE_FP32", INT64: "TYPE_INT64", INT32: "TYPE_INT32", BYTES: "TYPE_STRING" };
    // same tensors as the metadata, dims without the batch dimension
    expect(config.input.map((i: any) => ({ name: i.name, data_type: i.data_type, dims: i.dims }))).toEqual(
      md.inputs.map((i: any) => ({ name: i.name, data_type: type[i.datatype], dims: i.shape.slice(1) })),
    );
    expect(config.output.map((o: any) => ({ name: o.name, data_type: o.data_type, dims: o.dims }))).toEqual(
      md.outputs.map((o: any) => ({ name: o.name, data_type: type[o.datatype], dims: o.shape.slice(1) })),
    );
    expect(config.dynamic_batching).toMatchObject({
      preferred_batch_size: [16],
      max_queue_delay_microseconds: 3000,
      default_queue_policy: { max_queue_size: 2048 },
    });
    expect(config.instance_group[0]).toMatchObject({ kind: "KIND_CPU", count: s.app.models.current.workers });
    const manifest = s.app.models.current.manifest;
    expect(config.parameters.input_mean.string_value.split(",").map(Number)).toEqual(manifest.input.mean);
    expect(config.parameters.input_std.string_value.split(",").map(Number)).toEqual(manifest.input.std);
    expect(Number(config.parameters.input_pixel_scale.string_value)).toBe(manifest.input.pixelScale);
    expect(await codeOf(call(c, "ModelConfig", { name: "other" }))).toMatch(/^NOT_FOUND/);
    const index = await call(c, "RepositoryIndex", { ready: true });
    expect(index.models).toEqual([{ name: model, version: manifest.version, state: "READY", reason: "" }]);
    expect((await call(c, "ModelReady", { name: "other" })).ready).toBe(false);
  });

  it("reports statistics whose counts grow by exactly the requests sent", async () => {
    const stats = async () => (await call(c, "ModelStatistics", { name: model })).model_stats[0];
    const before = await stats();
    const tensor = [Buffer.concat(fixtures.map((f) => tensorBytes(f.input)))];
    for (let i = 0; i < 5; i++) await infer([{ name: "image", datatype: "FP32", shape: [N, 1, 28, 28] }], tensor);
    for (let i = 0; i < 2; i++) await codeOf(infer([{ name: "image", datatype: "FP32", shape: [N, 1, 28, 28] }], [Buffer.alloc(8)]));
    const after = await stats();
    expect(after.name).toBe(model);
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(5);
    expect(after.inference_stats.fail.count - before.inference_stats.fail.count).toBe(2);
    expect(after.inference_count - before.inference_count).toBe(5 * N);
    expect(after.inference_stats.queue.count - before.inference_stats.queue.count).toBe(5);
    expect(after.inference_stats.compute_infer.ns).toBeGreaterThan(before.inference_stats.compute_infer.ns);
    expect(after.execution_count).toBeGreaterThan(before.execution_count);
    expect(after.batch_stats.length).toBeGreaterThan(0);
    expect(after.last_inference).toBeGreaterThan(Date.now() - 60_000);
  });

  it("honours Triton's timeout (microseconds) and priority parameters, and returns exit, flops and exit_reason as parameters", async () => {
    const req = (parameters: Record<string, unknown>) => ({
      model_name: model,
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
      raw_input_contents: [tensorBytes(fixtures[0]!.input)],
      parameters,
    });
    const ok = await call(c, "ModelInfer", req({ priority: { uint64_param: 1 }, timeout: { int64_param: 10_000_000 }, exit: { int64_param: 6 } }));
    expect(ok.parameters.exit.int64_param).toBe(6);
    expect(ok.parameters.exit_reason.string_param).toBe("fixed");
    expect(ok.parameters.flops.int64_param).toBe(s.app.models.current.manifest.exits[5]!.flops);
  });

  it("answers DEADLINE_EXCEEDED when Triton's timeout passes", async () => {
    // a server whose batches wait 300 ms to fill: a lone request is still queued after 50 ms
    const slow = await startServer(["--max-queue-delay-ms", "300", "--dispatch-when-idle", "false"]);
    const sc = oipClient(`127.0.0.1:${slow.app.grpcPort}`);
    try {
      const r = codeOf(
        call(sc, "ModelInfer", {
          model_name: model,
          inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
          raw_input_contents: [tensorBytes(fixtures[0]!.input)],
          parameters: { timeout: { int64_param: 50_000 } },
        }),
      );
      expect(await r).toMatch(/^DEADLINE_EXCEEDED/);
    } finally {
      sc.close();
      await slow.stop();
    }
  });
});
