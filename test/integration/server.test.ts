import { existsSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { runAllStages } from "../../src/engine/runAllStages.js";
import type { ClassifyRequest } from "../../src/generated/ranet/v1/ClassifyRequest.js";
import { argmax, softmaxRow } from "../../src/scoring/softmax.js";
import { FMNIST_DIR, imageOf, loadFashionMnist, normalise } from "../support/fashionMnist.js";
import { codeOf, parityFixtures, pngOf, startServer, tensorBytes } from "../support/fixtures.js";

type Server = Awaited<ReturnType<typeof startServer>>;

const fixtures = parityFixtures();

describe("gRPC server (static thresholds)", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer(["--controller", "false", "--exit-score", "max-softmax", "--max-queue-delay-ms", "2"]);
  });
  afterAll(() => s.stop());

  it("reports SERVING on the health service for the server and each service", async () => {
    for (const service of ["", "ranet.v1.Classifier", "inference.GRPCInferenceService"]) {
      expect((await unary(s.clients.health, "Check", { service })).status).toBe("SERVING");
    }
    expect(await codeOf(unary(s.clients.health, "Check", { service: "nope" }))).toMatch(/^NOT_FOUND/);
  });

  it("returns model metadata with labels, input spec and per-exit FLOPs", async () => {
    const md = await unary(s.clients.classifier, "GetModelMetadata", {});
    const m = s.app.models.current.classifier.manifest;
    expect(md.name).toBe(m.name);
    expect(md.labels).toEqual(m.labels);
    expect(md.input!.shape).toEqual(m.input.shape);
    expect(md.exits.map((e: { flops: number }) => e.flops)).toEqual(m.exits.map((e) => e.flops));
  });

  it("classifies a PNG image and a raw tensor, reporting exit and FLOPs", async () => {
    const m = s.app.models.current.classifier.manifest;
    const png = await unary(s.clients.classifier, "Classify", { request_id: "a", image: await pngOf(fixtures[0]!.pixels) });
    expect(png.request_id).toBe("a");
    expect(m.labels).toContain(png.label);
    expect(png.flops).toBe(m.exits[png.exit - 1]!.flops);
    expect(png.top_k).toHaveLength(5);
    expect(png.model_name).toBe(m.name);
    const f = fixtures[1]!;
    const t = await unary(s.clients.classifier, "Classify", {
      tensor: { shape: [1, 28, 28], data: tensorBytes(f.input) },
      options: { exit: m.exits.length, return_all_exits: true },
    });
    expect(t.exit).toBe(m.exits.length);
    expect(t.exit_reason).toBe("fixed");
    expect(t.class_index).toBe(argmax(f.logits[m.exits.length - 1]!));
    expect(t.exits.map((e: { exit: number }) => e.exit)).toEqual(m.exits.map((_, k) => k + 1));
    const values = await unary(s.clients.classifier, "Classify", { tensor: { shape: [1, 28, 28], values: f.input }, options: { exit: 1 } });
    expect(values.class_index).toBe(argmax(f.logits[0]!));
  });

  it("a FLOPs budget caps the exit (anytime)", async () => {
    const m = s.app.models.current.classifier.manifest;
    const budget = m.exits[1]!.flops;
    for (const f of fixtures.slice(0, 4)) {
      const r = await unary(s.clients.classifier, "Classify", {
        tensor: { shape: [1, 28, 28], data: tensorBytes(f.input) },
        options: { flops_budget: budget },
      });
      expect(r.exit).toBeLessThanOrEqual(2);
      expect(r.flops).toBeLessThanOrEqual(budget);
    }
  });

  it.runIf(existsSync(FMNIST_DIR))("answers over gRPC exactly as the stages do in-process (same exit, class and FLOPs)", async () => {
    const set = loadFashionMnist("test");
    const spec = s.app.models.current.classifier.input;
    const m = s.app.models.current.classifier.manifest;
    const n = 200;
    const inputs = Array.from({ length: n }, (_, i) => normalise(imageOf(set, i * 37), spec));
    // in-process: chain all stages on the whole batch, then apply the server's thresholds
    const thresholds = s.app.models.current.classifier.thresholds();
    const input = { image: { data: Float32Array.from(inputs.flatMap((x) => Array.from(x))), dims: [n, ...m.input.shape] } };
    const expected: { exit: number; cls: number; flops: number }[] = new Array(n);
    await runAllStages(s.app.models.current.engine, m.stages, input, (k, out) => {
      for (let i = 0; i < n; i++) {
        if (expected[i]) continue;
        const p = softmaxRow(out.logits!.data, i, m.labels.length);
        const cls = argmax(p);
        if (k === m.stages.length - 1 || p[cls]! >= thresholds[k]!) expected[i] = { exit: k + 1, cls, flops: m.exits[k]!.flops };
      }
    });
    const got = await Promise.all(inputs.map((x) => unary(s.clients.classifier, "Classify", { tensor: { shape: [1, 28, 28], data: tensorBytes(x) } })));
    const mismatches = got.filter((r, i) => r.exit !== expected[i]!.exit || r.class_index !== expected[i]!.cls || Number(r.flops) !== expected[i]!.flops);
    expect(mismatches).toEqual([]);
    expect(new Set(got.map((r) => r.exit)).size).toBeGreaterThan(1);
  });

  it("serves many concurrent calls in batches larger than one", async () => {
    const before = await s.app.metrics.stageBatchSize.get();
    const sumBefore = before.values.find((v) => v.metricName === "ranet_stage_batch_size_sum" && v.labels.stage === 1)?.value ?? 0;
    const countBefore = before.values.find((v) => v.metricName === "ranet_stage_batch_size_count" && v.labels.stage === 1)?.value ?? 0;
    const calls = Array.from({ length: 64 }, (_, i) =>
      unary(s.clients.classifier, "Classify", { tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[i % fixtures.length]!.input) } }),
    );
    const res = await Promise.all(calls);
    expect(res).toHaveLength(64);
    res.forEach((r, i) => {
      expect(r.class_index).toBe(res[i % fixtures.length]!.class_index);
    });
    const after = await s.app.metrics.stageBatchSize.get();
    const sum = after.values.find((v) => v.metricName === "ranet_stage_batch_size_sum" && v.labels.stage === 1)!.value - sumBefore;
    const count = after.values.find((v) => v.metricName === "ranet_stage_batch_size_count" && v.labels.stage === 1)!.value - countBefore;
    expect(sum).toBe(64);
    expect(count).toBeLessThan(64);
  });

  it("streams: answers every request by id, failed items carry an error and the stream goes on", async () => {
    const call = s.clients.classifier.ClassifyStream();
    const got: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: unknown) => got.push(r));
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (let i = 0; i < 10; i++) {
      call.write(
        i === 4
          ? { request_id: "bad", tensor: { shape: [3, 28, 28], data: Buffer.alloc(12) } }
          : { request_id: `r${i}`, tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[i % fixtures.length]!.input) } },
      );
    }
    call.end();
    await done;
    expect(got.map((r) => r.request_id).sort()).toEqual(["bad", "r0", "r1", "r2", "r3", "r5", "r6", "r7", "r8", "r9"]);
    const bad = got.find((r) => r.request_id === "bad");
    expect(bad.error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.error.message).toContain("tensor.shape");
    expect(got.filter((r) => r.request_id !== "bad").every((r) => r.error === null && r.label)).toBe(true);
  });

  describe("error paths", () => {
    const classify = (req: unknown, deadlineMs?: number) => codeOf(unary(s.clients.classifier, "Classify", req as ClassifyRequest, deadlineMs));

    it("bad shape", async () => {
      expect(await classify({ tensor: { shape: [3, 32, 32], data: Buffer.alloc(3 * 32 * 32 * 4) } })).toBe(
        "INVALID_ARGUMENT: tensor.shape: expected [1,28,28] or [1,1,28,28], got [3,32,32]",
      );
    });
    it("bad data length (wrong dtype size)", async () => {
      expect(await classify({ tensor: { shape: [1, 28, 28], data: Buffer.alloc(28 * 28 * 2) } })).toBe(
        "INVALID_ARGUMENT: tensor.data: expected 3136 bytes (784 float32 values), got 1568 bytes",
      );
    });
    it("NaN values", async () => {
      const v = new Array(784).fill(0);
      v[5] = NaN;
      expect(await classify({ tensor: { shape: [1, 28, 28], data: tensorBytes(v) } })).toBe(
        "INVALID_ARGUMENT: tensor: expected finite float32 values, got NaN at index 5",
      );
    });
    it("undecodable image", async () => {
      const png = await pngOf(fixtures[0]!.pixels);
      expect(await classify({ image: png.subarray(0, 40) })).toMatch(
        /^INVALID_ARGUMENT: image: expected a decodable PNG, JPEG or WebP image, got a damaged or truncated one/,
      );
      expect(await classify({ image: Buffer.from("GIF89a....") })).toMatch(/^INVALID_ARGUMENT: image: expected/);
      // a text file: the format is the one problem named (not the pixel limit)
      expect(await classify({ image: Buffer.from("hello, this is text\n") })).toBe(
        "INVALID_ARGUMENT: image: expected a PNG, JPEG or WebP image, got 20 bytes in no image format (they begin 68656c6c6f2c2074)",
      );
    });
    it("missing input", async () => {
      expect(await classify({})).toMatch(/^INVALID_ARGUMENT: input: expected an image .* or a tensor of shape \[1,28,28\]/);
    });
    it("oversized message, counted in ranet_requests_total although grpc-js refuses it before any handler", async () => {
      const counted = async () => {
        const text = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
        return Number(/^ranet_requests_total\{method="Classify",code="RESOURCE_EXHAUSTED",protocol="grpc"\} (\S+)$/m.exec(text)?.[1] ?? 0);
      };
      const before = await counted();
      expect(await classify({ image: Buffer.alloc(s.config.maxMessageBytes + 10) })).toMatch(/^RESOURCE_EXHAUSTED: Received message larger than max/);
      expect(await counted()).toBe(before + 1);
    });
    it("unknown model", async () => {
      expect(await classify({ model: "resnet", tensor: { shape: [1, 28, 28], values: new Array(784).fill(0) } })).toBe(
        "NOT_FOUND: model: 'resnet' is not served here; served models: 'ranet-fmnist'",
      );
    });
    it("invalid options", async () => {
      const t = { shape: [1, 28, 28], values: new Array(784).fill(0) };
      expect(await classify({ tensor: t, options: { exit: 9 } })).toBe("INVALID_ARGUMENT: options.exit: expected 0 (adaptive) or an exit from 1 to 6, got 9");
      expect(await classify({ tensor: t, options: { flops_budget: 5 } })).toMatch(
        /^INVALID_ARGUMENT: options.flops_budget: expected 0 \(none\) or at least \d+ multiply-adds \(the first exit's cost\), got 5$/,
      );
    });
    it("an exit that the flops_budget does not reach is refused, at every exit (ranet.v1 and OIP)", async () => {
      const t = { shape: [1, 28, 28], values: new Array(784).fill(0) };
      const flops = s.app.models.current.classifier.exitFlops;
      for (let k = 2; k <= flops.length; k++) {
        const budget = flops[k - 2]!; // reaches exit k-1, not exit k
        expect(await classify({ tensor: t, options: { exit: k, flops_budget: budget } })).toBe(
          `INVALID_ARGUMENT: options.exit: expected an exit within options.flops_budget (${budget} multiply-adds reach exit ${k - 1}; exit ${k} costs ${flops[k - 1]}), got ${k}`,
        );
        const oip = await codeOf(
          unary(s.clients.inference, "ModelInfer", {
            model_name: "ranet-fmnist",
            parameters: { exit: { int64_param: k }, flops_budget: { int64_param: budget } },
            inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
            raw_input_contents: [Buffer.alloc(784 * 4)],
          }),
        );
        expect(oip).toMatch(/^INVALID_ARGUMENT: parameters.exit: expected an exit within parameters.flops_budget/);
        // a budget that reaches the exit is fine
        const ok = await unary(s.clients.classifier, "Classify", { tensor: t, options: { exit: k, flops_budget: flops[k - 1]! } });
        expect(ok.exit).toBe(k);
        expect(Number(ok.flops)).toBeLessThanOrEqual(flops[k - 1]!);
      }
    });
  });
});

describe("gRPC server under pressure", () => {
  let s: Server;
  beforeAll(async () => {
    // long queue delay, no dispatch to an idle worker and a tiny queue: requests wait, the third is refused
    s = await startServer([
      "--max-queue-size",
      "2",
      "--max-batch-size",
      "8",
      "--max-queue-delay-ms",
      "400",
      "--dispatch-when-idle",
      "false",
      "--controller",
      "false",
    ]);
  });
  afterAll(() => s.stop());
  const req = () => ({ tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[0]!.input) } });

  it("a full queue answers RESOURCE_EXHAUSTED", async () => {
    const results = await Promise.all([0, 1, 2].map(() => codeOf(unary(s.clients.classifier, "Classify", req()))));
    expect(results.filter((r) => r === "OK")).toHaveLength(2);
    expect(results.find((r) => r !== "OK")).toMatch(/^RESOURCE_EXHAUSTED: stage 1 queue is full/);
  });

  it("a deadline that passes in the queue answers DEADLINE_EXCEEDED and frees the slot", async () => {
    expect(await codeOf(unary(s.clients.classifier, "Classify", req(), 100))).toMatch(/^DEADLINE_EXCEEDED/);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.app.models.current.pipeline.inflightCount).toBe(0);
  });

  it("a cancelled call leaves the queue", async () => {
    const call = s.clients.classifier.Classify(req(), () => {});
    await new Promise((r) => setTimeout(r, 50));
    expect(s.app.models.current.pipeline.inflightCount).toBe(1);
    call.cancel();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.app.models.current.pipeline.inflightCount).toBe(0);
  });
});
