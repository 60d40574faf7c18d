/**
 * Garbage over REST: 3,000 requests of mutated JSON and binary bodies, random encodings and
 * headers, mixed with valid ones. Every valid request is answered right; every other one gets
 * a 4xx with an {"error"} of at most 512 characters; nothing gets a 5xx, and the server still
 * answers afterwards.
 */
import { deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argmax } from "../../src/scoring/softmax.js";
import { parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";
import { rng } from "../support/rng.js";

const fixtures = parityFixtures();
const N = 3000;

describe("fuzz: garbage bodies, headers and encodings over REST", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer(["--exit-score", "max-softmax", "--max-message-bytes", String(256 * 1024), "--max-queue-size", "100000"]);
  });
  afterAll(() => s.stop());

  it("answers valid requests right and everything else with a bounded 4xx, never a 5xx", async () => {
    const r = rng(20261207);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const base = `http://127.0.0.1:${s.app.httpPort}`;
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let valid = 0;
    const one = async (i: number) => {
      const f = fixtures[i % fixtures.length]!;
      const doc = {
        parameters: { exit: 6 },
        inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: f.input }],
        outputs: [{ name: "class" }],
      };
      let body: Buffer = Buffer.from(JSON.stringify(doc));
      const headers: Record<string, string> = {};
      const isValid = i % 5 === 0;
      if (!isValid) {
        const kind = Math.floor(r() * 9);
        if (kind === 0)
          body = body.subarray(0, Math.floor(r() * body.length)); // truncated
        else if (kind === 1)
          for (let k = 0; k < 1 + r() * 20; k++) body[Math.floor(r() * body.length)] = Math.floor(r() * 256); // bytes flipped
        else if (kind === 2)
          body = Buffer.from(Array.from({ length: Math.floor(r() * 3000) }, () => Math.floor(r() * 256))); // noise
        else if (kind === 3) {
          // a binary-extension request with a wrong length somewhere
          const data = tensorBytes(f.input);
          const header = Buffer.from(
            JSON.stringify({
              inputs: [
                {
                  name: "image",
                  datatype: pick(["FP32", "UINT8", "BYTES", "INT64"]),
                  shape: [1, 1, 28, 28],
                  parameters: { binary_data_size: pick([0, 3135, 3136, 3137, 99999]) },
                },
              ],
            }),
          );
          body = Buffer.concat([header, data.subarray(0, Math.floor(r() * data.length))]);
          headers["Inference-Header-Content-Length"] = String(pick([header.length, header.length - 1, header.length + 7, 0]));
        } else if (kind === 4) {
          headers["Content-Encoding"] = pick(["gzip", "deflate", "br", "gzip, gzip", "GZIP", "x"]);
          if (r() < 0.5) body = pick([gzipSync, deflateSync])(body).subarray(0, Math.floor(r() * 200));
        } else if (kind === 5) headers["Inference-Header-Content-Length"] = pick(["", "abc", "-1", "1e3", "99999999999", String(body.length + 1)]);
        else if (kind === 6) {
          // a valid document with one field replaced by a wrong type
          const field = pick(["id", "parameters", "inputs", "outputs"]);
          body = Buffer.from(JSON.stringify({ ...doc, [field]: pick([null, 7, "x", [], {}, [null], [[1]], true]) }));
        } else if (kind === 7) {
          const data = pick<unknown>([[], ["a"], [null], [[[]]], f.input.slice(0, 100), { b64: "x" }, "[1]", f.input]);
          // with f.input, one number JSON reads as Infinity: 785 values, one not finite
          body = Buffer.from(JSON.stringify({ ...doc, inputs: [{ ...doc.inputs[0], data }] }).replace('"data":[', '"data":[1e999,'));
        } else headers["x-tenant"] = pick(["", " ", "a b", "é", "x".repeat(300)]);
      }
      const res = await fetch(`${base}/v2/models/ranet-fmnist/infer`, { method: "POST", body: new Uint8Array(body), headers }).catch((e: Error) => e);
      if (res instanceof Error) {
        bad.push(`request ${i}: ${res.message}`);
        return;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = await res.text();
      if (isValid) {
        valid++;
        const cls = res.status === 200 ? JSON.parse(text).outputs[0].data[0] : undefined;
        if (cls !== argmax(f.logits[5]!)) bad.push(`request ${i} (valid): ${res.status} ${text.slice(0, 200)}`);
        return;
      }
      if (res.status >= 500) bad.push(`request ${i}: ${res.status} ${text.slice(0, 200)}`);
      else if (res.status >= 400) {
        const err = JSON.parse(text).error;
        if (typeof err !== "string" || err.length > 512) bad.push(`request ${i}: ${res.status} unbounded error`);
      }
    };
    for (let i = 0; i < N; i += 32) await Promise.all(Array.from({ length: Math.min(32, N - i) }, (_, k) => one(i + k)));
    expect(bad).toEqual([]);
    expect(valid).toBe(N / 5);
    expect([...statuses.keys()].every((c) => c < 500)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(N / 2);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  }, 120_000);
});
