import { describe, expect, it } from "vitest";
import { Cancellation } from "../../src/core/Cancellation.js";
import { ServingError } from "../../src/core/errors.js";
import { loadManifest } from "../../src/format/manifest.js";
import { Classifier } from "../../src/pipeline/Classifier.js";
import { StaticExitPolicy } from "../../src/pipeline/ExitPolicy.js";
import type { Pipeline } from "../../src/pipeline/Pipeline.js";
import { FakeClock } from "../support/FakeClock.js";
import { MODEL_DIR } from "../support/fixtures.js";

describe("Classifier.serve", () => {
  it("refuses before decoding: an overloaded server spends nothing on the input", async () => {
    const manifest = await loadManifest(MODEL_DIR);
    let submitted = 0;
    const pipeline = {
      admissionError: () => new ServingError("resource_exhausted", "overloaded"),
      submit: () => {
        submitted++;
        throw new Error("not reached");
      },
    } as unknown as Pipeline;
    const c = new Classifier(manifest, pipeline, new StaticExitPolicy([0.5]), new FakeClock(), 1_000_000);
    // an undecodable image: decoding it first would answer INVALID_ARGUMENT
    const err = await c
      .serve(() => ({ inputs: [{ input: { image: Buffer.from("not an image") }, field: "image" }], opts: {} }), new Cancellation())
      .catch((e) => e);
    expect(err).toMatchObject({ kind: "resource_exhausted" });
    expect(submitted).toBe(0);
  });

  it("validates options once, naming the protocol's fields", async () => {
    const manifest = await loadManifest(MODEL_DIR);
    const c = new Classifier(manifest, {} as Pipeline, new StaticExitPolicy([0.5]), new FakeClock(), 1_000_000);
    const fields = { exit: "parameters.exit", flopsBudget: "parameters.flops_budget" };
    const base = { exit: 0, flopsBudget: 0, anytime: false, returnAllExits: false };
    expect(() => c.options({ ...base, exit: 7 }, Infinity, fields)).toThrow(/^parameters\.exit: expected 0 \(adaptive\) or an exit from 1 to 6, got 7$/);
    expect(() => c.options({ ...base, flopsBudget: 10 }, Infinity, fields)).toThrow(
      /^parameters\.flops_budget: expected 0 \(none\) or at least \d+ multiply-adds/,
    );
    expect(c.options({ ...base, exit: 6 }, Infinity, fields)).toMatchObject({ fixedExit: 5, flopsBudget: undefined, deadlineMs: undefined });
  });
});
