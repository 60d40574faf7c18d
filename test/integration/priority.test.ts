import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { loadConfig } from "../../src/config/config.js";
import { codeOf, MODEL_DIR, parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";

const fixtures = parityFixtures();
const tensor = (i = 0) => ({ shape: [1, 28, 28], data: tensorBytes(fixtures[i % fixtures.length]!.input) });

describe("priority levels", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer([
      "--priority-levels",
      "2",
      "--max-queue-wait-ms",
      "50",
      "--priority-max-queue-size",
      "64,2048",
      "--priority-queue-timeout-ms",
      "0,5000",
      "--priority-timeout-action",
      "reject,delay",
    ]);
  });
  afterAll(() => s?.stop());

  it("under a flood of level 2, level 1 is not refused and the refusals fall on level 2", async () => {
    const low = (i: number) => ({ tensor: tensor(i), options: { exit: 6, priority: 2 } });
    const flood = Array.from({ length: 1500 }, (_, i) => codeOf(unary(s.clients.classifier, "Classify", low(i))));
    const high: string[] = [];
    for (let i = 0; i < 30; i++) high.push(await codeOf(unary(s.clients.classifier, "Classify", { tensor: tensor(i), options: { exit: 6, priority: 1 } })));
    const flooded = await Promise.all(flood);
    expect(high).toEqual(Array(30).fill("OK"));
    expect(flooded.filter((c) => c.startsWith("RESOURCE_EXHAUSTED")).length).toBeGreaterThan(0);
    expect(flooded.filter((c) => c !== "OK" && !c.startsWith("RESOURCE_EXHAUSTED"))).toEqual([]);
  });

  it("takes 0 (the default level), 1 and 2, refuses other levels naming the field, over ranet.v1 and the OIP", async () => {
    for (const priority of [0, 1, 2]) expect(await codeOf(unary(s.clients.classifier, "Classify", { tensor: tensor(), options: { priority } }))).toBe("OK");
    expect(await codeOf(unary(s.clients.classifier, "Classify", { tensor: tensor(), options: { priority: 3 } }))).toBe(
      "INVALID_ARGUMENT: options.priority: expected 0 (the default level, 2) or a level from 1 (highest) to 2, got 3",
    );
    const infer = (priority: number) =>
      codeOf(
        unary(s.clients.inference, "ModelInfer", {
          model_name: "ranet-fmnist",
          inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
          raw_input_contents: [tensor().data],
          parameters: { priority: { int64_param: priority } },
        }),
      );
    expect(await infer(1)).toBe("OK");
    expect(await infer(9)).toMatch(/^INVALID_ARGUMENT: parameters.priority: expected 0 \(the default level, 2\)/);
  });

  it("reports the levels in ModelConfig as Triton's dynamic batching settings", async () => {
    const { config } = await unary(s.clients.inference, "ModelConfig", { name: "ranet-fmnist" });
    const batching = config!.dynamic_batching!;
    expect(batching).toMatchObject({ priority_levels: 2, default_priority_level: 2 });
    // protobufjs decodes 64-bit map keys as 8-byte hashes (C++, Python and Go clients see numbers)
    const policy = Object.entries(batching.priority_queue_policy).map(([k, v]) => [
      protobuf.util.LongBits.fromHash(k).toNumber(true),
      v.max_queue_size,
      Number(v.default_timeout_microseconds),
      v.timeout_action,
    ]);
    expect(policy).toEqual([
      [1, 64, 0, "REJECT"],
      [2, 2048, 5_000_000, "DELAY"],
    ]);
  });

  it("with priorities off (the default) accepts any priority and ignores it, as before", async () => {
    const off = await startServer([]);
    try {
      expect(await codeOf(unary(off.clients.classifier, "Classify", { tensor: tensor(), options: { priority: 7 } }))).toBe("OK");
    } finally {
      await off.stop();
    }
  });

  it("refuses priority settings that contradict each other", () => {
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--priority-levels", "2", "--default-priority-level", "3"], {})).toThrow(
      /'defaultPriorityLevel': expected 0 to priorityLevels \(2\), got 3/,
    );
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--priority-levels", "2", "--priority-max-queue-size", "5"], {})).toThrow(
      /'priorityMaxQueueSize': expected one size per level \(2\), got 1/,
    );
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--priority-levels", "2", "--priority-timeout-action", "delay"], {})).toThrow(
      /'priorityTimeoutAction': expected one value per level \(2\), got 1/,
    );
    expect(() => loadConfig(["--model-dir", MODEL_DIR, "--priority-levels", "1", "--priority-timeout-action", "later"], {})).toThrow(/priorityTimeoutAction/);
  });
});
