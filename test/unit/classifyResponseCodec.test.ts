import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { ClassifyResponse } from "../../src/generated/ranet/v1/ClassifyResponse.js";
import { encodeClassifyResponse } from "../../src/grpc/classifyResponseCodec.js";
import { directSerializing } from "../../src/grpc/directSerializing.js";
import { loadProtos } from "../../src/grpc/protos.js";

const service = (grpc.loadPackageDefinition(loadProtos()).ranet as { v1: { Classifier: grpc.ServiceClientConstructor } }).v1.Classifier.service;
const method = service.ClassifyStream!;
const generic = (r: ClassifyResponse) => method.responseSerialize(r);
const decode = (b: Buffer) => method.responseDeserialize(b);

/** A float32 as it travels. */
const f32 = (x: number) => Math.fround(x);

function randomResponse(seed: number): ClassifyResponse {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const labels = ["T-shirt/top", "Trouser", "", "Kleid \u00fc\u00df", "\u978b\u5b50", "x".repeat(130), "\u{1F45F} sneaker".repeat(20)];
  const text = () => pick(labels);
  const num = () => pick([0, 1, 9, 127, 128, 300, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, 15_290_000, 2 ** 53 - 1]);
  const small = () => pick([0, 1, 5, 9, 127, 128, 1000]);
  const float = () => pick([0, 1, 0.5, f32(0.93), f32(1e-7), f32(rand())]);
  const r: ClassifyResponse = {
    request_id: pick(["", "req-1", "\u00e9".repeat(70), String(seed)]),
    class_index: small(),
    label: text(),
    confidence: float(),
    exit: small(),
    flops: num(),
    top_k: Array.from({ length: Math.floor(rand() * 6) }, () => ({ class_index: small(), label: text(), probability: float() })),
    model_name: pick(["ranet-fmnist", "", "m\u00f6del"]),
    model_version: pick(["1", "", "12"]),
    exits: Array.from({ length: Math.floor(rand() * 4) }, () => ({
      exit: small(),
      class_index: small(),
      label: text(),
      confidence: float(),
      flops: num(),
      own_class_index: small(),
      own_label: text(),
      own_confidence: float(),
    })),
    exit_reason: pick(["confident", "last", "fixed", "budget", "deadline", ""]),
  };
  if (rand() < 0.2) r.error = { code: pick([0, 3, 8, 14]), message: pick(["", "bad", "m".repeat(300)]) };
  return r;
}

describe("encodeClassifyResponse", () => {
  it("writes the bytes the generic serializer (protobufjs) writes", () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = randomResponse(seed);
      const bytes = encodeClassifyResponse(r);
      expect(bytes, `seed ${seed}`).toBeDefined();
      expect(bytes!.equals(generic(r)), `seed ${seed}`).toBe(true);
    }
  });

  it("leaves out what the object leaves out, writes a field at its default that the object has, as protobufjs does", () => {
    for (const r of [
      {},
      { class_index: 0, label: "" },
      { exits: [{}], top_k: [{ probability: 0 }] },
      { error: null },
      { error: { code: 0 } },
    ] as ClassifyResponse[])
      expect(encodeClassifyResponse(r)!.equals(generic(r)), JSON.stringify(r)).toBe(true);
  });

  it("a message of several kilobytes (a long error message, many exits) grows its buffer and stays exact", () => {
    const r: ClassifyResponse = {
      request_id: "big",
      error: { code: 3, message: "\u00e4".repeat(5000) },
      exits: Array.from({ length: 100 }, (_, k) => ({ exit: k + 1, label: "y".repeat(200) })),
    };
    expect(encodeClassifyResponse(r)!.equals(generic(r))).toBe(true);
    expect(decode(encodeClassifyResponse(r)!)).toEqual(decode(generic(r)));
    expect(encodeClassifyResponse(randomResponse(7))!.equals(generic(randomResponse(7)))).toBe(true);
  });

  it("leaves to the generic serializer what it does not take: 64-bit integers as strings, negative or fractional integers", () => {
    expect(encodeClassifyResponse({ flops: "15290000" })).toBeUndefined();
    expect(encodeClassifyResponse({ class_index: -1 })).toBeUndefined();
    expect(encodeClassifyResponse({ exits: [{ flops: 1.5 }] })).toBeUndefined();
    const direct = directSerializing(service).ClassifyStream!;
    expect(decode(direct.responseSerialize({ flops: "15290000", label: "Bag" }))).toEqual(decode(generic({ flops: 15_290_000, label: "Bag" })));
  });

  it("is installed for Classify and ClassifyStream only", () => {
    const direct = directSerializing(service);
    expect(direct.Classify!.responseSerialize).not.toBe(service.Classify!.responseSerialize);
    expect(direct.ClassifyStream!.responseSerialize).not.toBe(service.ClassifyStream!.responseSerialize);
    expect(direct.GetModelMetadata!.responseSerialize).toBe(service.GetModelMetadata!.responseSerialize);
  });
});
