import v8 from "node:v8";
import vm from "node:vm";
import * as grpc from "@grpc/grpc-js";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import type { ModelInferRequest } from "../../src/generated/inference/ModelInferRequest.js";
import type { ClassifyRequest } from "../../src/generated/ranet/v1/ClassifyRequest.js";
import { argmax } from "../../src/scoring/softmax.js";
import { parityFixtures, pngOf, startServer, tensorBytes } from "../support/fixtures.js";
import { rng } from "../support/rng.js";

/** A real garbage collection, so heap figures compare live data rather than GC timing. */
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const fixtures = parityFixtures();
const N = 10_000;
const MAX_MESSAGE = 256 * 1024;

type Case = { api: "classify" | "infer"; req: unknown; expect: "ok" | "invalid" | "either" | "not_found" | "too_big"; want?: number };

describe("fuzz: malformed requests over both APIs, mixed with valid ones", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let png: Buffer;
  let bomb: Buffer;
  beforeAll(async () => {
    s = await startServer([
      "--exit-score",
      "max-softmax",
      "--max-message-bytes",
      String(MAX_MESSAGE),
      "--max-image-pixels",
      "1000000",
      "--max-queue-size",
      "100000",
    ]);
    png = await pngOf(fixtures[0]!.pixels);
    // a tiny file that decodes to 6000 x 6000 pixels
    bomb = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: "#000000" } })
      .png({ compressionLevel: 9, palette: true })
      .toBuffer();
  });
  afterAll(() => s.stop());

  function makeCase(r: () => number, i: number): Case {
    const f = fixtures[i % fixtures.length]!;
    const name = s.app.models.current.classifier.name;
    const good = tensorBytes(f.input);
    const pick = Math.floor(r() * 24);
    const t = (shape: number[], data: Buffer) => ({ tensor: { shape, data } });
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const inferTensor = (datatype: string, shape: number[], raw?: Buffer, extra: object = {}) => ({
      model_name: name,
      inputs: [{ name: "image", datatype, shape }],
      raw_input_contents: raw ? [raw] : [],
      ...extra,
    });
    if (i % 10 === 0) return { api: "classify", req: { ...t([1, 28, 28], good), options: { exit: 6 } }, expect: "ok", want: argmax(f.logits[5]!) };
    if (i % 10 === 5)
      return {
        api: "infer",
        req: inferTensor("FP32", [1, 1, 28, 28], good, { parameters: { exit: { int64_param: 6 } } }),
        expect: "ok",
        want: argmax(f.logits[5]!),
      };
    switch (pick) {
      // a PNG cut inside its trailer may still decode: either answer is right, INTERNAL is not
      case 0:
        return { api: "classify", req: { image: png.subarray(0, Math.floor(r() * png.length)) }, expect: "either" };
      case 1: {
        const c = Buffer.from(png);
        for (let k = 0; k < 8; k++) c[8 + Math.floor(r() * (c.length - 8))] = Math.floor(r() * 256);
        return { api: "classify", req: { image: c }, expect: "either" };
      }
      case 2:
        return { api: "classify", req: { image: bytes(1 + Math.floor(r() * 300)) }, expect: "invalid" };
      case 3:
        return { api: "classify", req: { image: bomb }, expect: "invalid" };
      case 4:
        return { api: "classify", req: t([[0, 2, 3][Math.floor(r() * 3)]!, 28, 28], good), expect: "invalid" };
      case 5:
        return { api: "classify", req: t([1, 28, 28], good.subarray(0, Math.floor(r() * good.length))), expect: "invalid" };
      case 6: {
        const v = Array.from(f.input);
        v[Math.floor(r() * v.length)] = [NaN, Infinity, -Infinity][Math.floor(r() * 3)]!;
        return { api: "classify", req: t([1, 28, 28], tensorBytes(v)), expect: "invalid" };
      }
      case 7:
        return { api: "classify", req: {}, expect: "invalid" };
      case 8:
        return { api: "classify", req: { ...t([1, 28, 28], good), options: { exit: 7 + Math.floor(r() * 100) } }, expect: "invalid" };
      case 9:
        return { api: "classify", req: { ...t([1, 28, 28], good), options: { flops_budget: 1 + Math.floor(r() * 1000) } }, expect: "invalid" };
      case 10:
        return { api: "classify", req: { model: `m${Math.floor(r() * 100)}`, ...t([1, 28, 28], good) }, expect: "not_found" };
      case 11:
        return {
          api: "classify",
          req: { tensor: { shape: [1, 28, 28], values: Array.from({ length: Math.floor(r() * 900) }, () => r()) } },
          expect: "invalid",
        };
      case 12:
        return { api: "classify", req: { tensor: { shape: [1, 28, 28], data: good, values: Array.from(f.input) } }, expect: "invalid" };
      case 13:
        return { api: "infer", req: inferTensor(["INT32", "FP16", "UINT8", "FP64", ""][Math.floor(r() * 5)]!, [1, 1, 28, 28], good), expect: "invalid" };
      case 14:
        return { api: "infer", req: inferTensor("FP32", [1 + Math.floor(r() * 3), 1, 28, 28], good.subarray(0, good.length - 4)), expect: "invalid" };
      case 15:
        return { api: "infer", req: inferTensor("FP32", [1, 28, 28 + Math.floor(r() * 5) + 1], good), expect: "invalid" };
      case 16:
        return { api: "infer", req: inferTensor("FP32", [1, 1, 28, 28], good, { parameters: { flops_budget: { string_param: "lots" } } }), expect: "invalid" };
      case 17:
        return {
          api: "infer",
          req: inferTensor("FP32", [1, 1, 28, 28], good, { parameters: { [`p${Math.floor(r() * 9)}`]: { bool_param: true } } }),
          expect: "invalid",
        };
      case 18:
        return { api: "infer", req: { ...inferTensor("FP32", [1, 1, 28, 28], good), model_name: "nope" }, expect: "not_found" };
      case 19:
        return { api: "infer", req: inferTensor("BYTES", [1], Buffer.concat([Buffer.from([200, 0, 0, 0]), bytes(20)])), expect: "invalid" };
      case 20: {
        const img = bytes(50);
        const framed = Buffer.concat([Buffer.from([img.length, 0, 0, 0]), img]);
        return { api: "infer", req: inferTensor("BYTES", [1], framed), expect: "invalid" };
      }
      case 21:
        return { api: "infer", req: { model_name: name, inputs: [] }, expect: "invalid" };
      case 22:
        // oversized messages are costly to build and send: one in fifty of these
        return i % 50 === 22
          ? { api: "classify", req: { image: Buffer.alloc(MAX_MESSAGE + 1 + Math.floor(r() * 1000)) }, expect: "too_big" }
          : { api: "classify", req: { image: Buffer.alloc(0) }, expect: "invalid" };
      default:
        return {
          api: "infer",
          req: inferTensor("FP32", [1, 1, 28, 28], undefined, {
            inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], contents: { fp32_contents: [1, 2, 3] } }],
          }),
          expect: "invalid",
        };
    }
  }

  it(`answers ${N} requests: malformed ones with the documented code, valid ones correctly, never INTERNAL/UNKNOWN`, async () => {
    const r = rng(2026);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const codes: Record<string, number> = {};
    const wrong: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const c = makeCase(r, i);
        const call =
          c.api === "classify"
            ? unary(s.clients.classifier, "Classify", c.req as ClassifyRequest, 30_000)
            : unary(s.clients.inference, "ModelInfer", c.req as ModelInferRequest, 30_000);
        const res = await call.then(
          (v: any) => ({ code: "OK", v }),
          (e: grpc.ServiceError) => ({ code: grpc.status[e.code] ?? String(e.code), v: e.details }),
        );
        codes[res.code] = (codes[res.code] ?? 0) + 1;
        const ok =
          c.expect === "ok"
            ? res.code === "OK" && (c.api === "classify" ? res.v.class_index === c.want : Number(res.v.raw_output_contents[0].readBigInt64LE(0)) === c.want)
            : c.expect === "either"
              ? res.code === "OK" || res.code === "INVALID_ARGUMENT"
              : c.expect === "invalid"
                ? res.code === "INVALID_ARGUMENT" && /expected/.test(res.v)
                : c.expect === "not_found"
                  ? res.code === "NOT_FOUND"
                  : res.code === "RESOURCE_EXHAUSTED";
        if (!ok && wrong.length < 10) wrong.push(`#${i} ${c.api} expected ${c.expect}, got ${res.code}: ${typeof res.v === "string" ? res.v : "response"}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(wrong).toEqual([]);
    expect(codes.INTERNAL ?? 0).toBe(0);
    expect(codes.UNKNOWN ?? 0).toBe(0);
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(N);
    expect(codes.OK).toBeGreaterThanOrEqual(N / 5);
    expect(s.app.models.current.pipeline.inflightCount).toBe(0);
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(`fuzz: ${N} requests, codes ${JSON.stringify(codes)}, heap growth ${grownMiB.toFixed(1)} MiB`);
    expect(grownMiB).toBeLessThan(16);
  }, 600_000);
});
