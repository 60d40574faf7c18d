/**
 * The Open Inference Protocol over REST (KServe v2, Triton's binary tensor data extension):
 * the real server on 127.0.0.1 with node's fetch and raw sockets as clients, compared with the
 * same requests over gRPC ModelInfer.
 */
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unary } from "../../src/cli/clients.js";
import { parityFixtures, pngOf, startServer, tensorBytes } from "../support/fixtures.js";
import { decodeOutputs } from "../support/oipOutputs.js";

type Server = Awaited<ReturnType<typeof startServer>>;
const fixtures = parityFixtures();
const MODEL = "ranet-fmnist";

/** A REST call: status, headers, and the body as JSON (or raw bytes when `raw`). */
async function call(base: string, path: string, init: RequestInit & { raw?: boolean } = {}) {
  const res = await fetch(`${base}${path}`, init);
  const buf = Buffer.from(await res.arrayBuffer());
  const json = !init.raw && buf.length && res.headers.get("content-type") === "application/json" ? JSON.parse(buf.toString()) : undefined;
  return { status: res.status, headers: res.headers, json, buf };
}

const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(base, path, {
    method: "POST",
    body: typeof body === "string" ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    headers,
  });

/** Raw bytes to the REST port; resolves with everything the server sent before it closed (or after `waitMs`). */
function rawExchange(port: number, chunks: (string | Buffer)[], gapMs = 0, waitMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", () => {});
    sock.on("close", () => resolve(got));
    setTimeout(() => {
      sock.destroy();
      resolve(got);
    }, waitMs);
    (async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        sock.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

/** gRPC outputs by name: their values. */
const grpcOutputs = (res: unknown): Record<string, (number | string)[]> =>
  Object.fromEntries(Object.entries(decodeOutputs(res)).map(([name, o]) => [name, o.values]));

/** A binary-extension request: the JSON header, then `data`, with the header's length in Inference-Header-Content-Length. */
function binaryBody(doc: unknown, data: Buffer): [Buffer, Record<string, string>] {
  const header = Buffer.from(JSON.stringify(doc));
  return [Buffer.concat([header, data]), { "Inference-Header-Content-Length": String(header.length), "Content-Type": "application/octet-stream" }];
}

const restOutputs = (json: any): Record<string, unknown[]> => Object.fromEntries(json.outputs.map((o: any) => [o.name, o.data]));

describe("REST Open Inference Protocol", () => {
  let s: Server;
  let base: string;
  let admin: string;
  beforeAll(async () => {
    s = await startServer(["--controller", "false", "--http-request-timeout-ms", "1500"]);
    base = `http://127.0.0.1:${s.app.httpPort}`;
    admin = `http://127.0.0.1:${s.app.adminHttpPort}`;
  });
  afterAll(() => s.stop());

  it("answers health, server and model metadata as the gRPC side does", async () => {
    expect((await call(base, "/v2/health/live")).status).toBe(200);
    expect((await call(base, "/v2/health/ready")).status).toBe(200);
    expect((await call(base, `/v2/models/${MODEL}/ready`)).status).toBe(200);
    expect((await call(base, `/v2/models/${MODEL}/versions/1/ready`)).status).toBe(200);
    // not ready is 4xx (KServe v2), not an error body
    expect((await call(base, "/v2/models/other/ready")).status).toBe(400);
    expect((await call(base, `/v2/models/${MODEL}/versions/9/ready`)).status).toBe(400);
    expect((await call(base, "/v2")).json).toEqual(await unary(s.clients.inference, "ServerMetadata", {}));
    const md = (await call(base, `/v2/models/${MODEL}`)).json;
    const grpcMd = await unary(s.clients.inference, "ModelMetadata", { name: MODEL });
    expect(md).toEqual({
      ...grpcMd,
      inputs: grpcMd.inputs.map((i: any) => ({ ...i, shape: i.shape.map(Number) })),
      outputs: grpcMd.outputs.map((o: any) => ({ ...o, shape: o.shape.map(Number) })),
    });
    expect((await call(base, `/v2/models/${MODEL}/versions/1`)).json.versions).toEqual(["1"]);
    const missing = await call(base, "/v2/models/other");
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/other/);
    const config = (await call(base, `/v2/models/${MODEL}/config`)).json;
    expect(config.name).toBe(MODEL);
    expect(config.max_batch_size).toBe(32);
    expect(config.output.map((o: any) => o.name)).toEqual(md.outputs.map((o: any) => o.name));
    const head = await call(base, "/v2/health/ready", { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("infers from JSON tensors, flat and nested, with the gRPC side's answers, id and parameters", async () => {
    const batch = fixtures.slice(0, 3);
    const params = { exit: 3 };
    const flat = await post(base, `/v2/models/${MODEL}/infer`, {
      id: "req-7",
      parameters: params,
      inputs: [{ name: "image", datatype: "FP32", shape: [3, 1, 28, 28], data: batch.flatMap((f) => f.input) }],
    });
    expect(flat.status).toBe(200);
    expect(flat.json.id).toBe("req-7");
    expect(flat.json.model_name).toBe(MODEL);
    expect(flat.json.model_version).toBe("1");
    const nested = batch.map((f) => [Array.from({ length: 28 }, (_, r) => f.input.slice(r * 28, r * 28 + 28))]);
    const byNested = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: params,
      inputs: [{ name: "image", datatype: "FP32", shape: [3, 1, 28, 28], data: nested }],
    });
    const grpc = await unary(s.clients.inference, "ModelInfer", {
      model_name: MODEL,
      inputs: [{ name: "image", datatype: "FP32", shape: [3, 1, 28, 28] }],
      raw_input_contents: [tensorBytes(batch.flatMap((f) => f.input))],
      parameters: { exit: { int64_param: 3 } },
    });
    const g = grpcOutputs(grpc);
    for (const r of [flat, byNested]) {
      const out = restOutputs(r.json);
      expect(Object.keys(out)).toEqual(Object.keys(g));
      for (const name of ["class", "label", "exit", "flops"]) expect(out[name]).toEqual(g[name]);
      expect(out.probabilities).toEqual(g.probabilities); // float32 values read the same way
      expect(r.json.outputs.find((o: any) => o.name === "probabilities").shape).toEqual([3, 10]);
      expect(r.json.parameters.exit).toBe("3,3,3");
    }
    const one = await post(base, `/v2/models/${MODEL}/versions/1/infer`, {
      parameters: { exit: 1 },
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: fixtures[0]!.input }],
      outputs: [{ name: "flops" }],
    });
    expect(one.json.parameters).toMatchObject({ exit: 1, exit_reason: "fixed" });
    expect(one.json.outputs).toEqual([{ name: "flops", datatype: "INT64", shape: [1], data: [s.app.models.current.classifier.exitFlops[0]] }]);
  });

  it("takes UINT8 pixels and encoded images (base64 strings or {b64}), and every per-request parameter", async () => {
    const f = fixtures[1]!;
    const pixels = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: { exit: 6 },
      inputs: [{ name: "image", datatype: "UINT8", shape: [1, 28, 28], data: f.pixels }],
    });
    expect(pixels.status).toBe(200);
    const png = (await pngOf(f.pixels)).toString("base64");
    const asBase64 = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: { exit: 6 },
      inputs: [{ name: "image_bytes", datatype: "BYTES", shape: [1], parameters: { content_type: "base64" }, data: [png] }],
    });
    const asB64 = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: { exit: 6 },
      inputs: [{ name: "image_bytes", datatype: "BYTES", shape: [1], data: [{ b64: png }] }],
    });
    for (const r of [asBase64, asB64]) expect(restOutputs(r.json).class).toEqual(restOutputs(pixels.json).class);
    const budget = s.app.models.current.classifier.exitFlops[1]!;
    const budgeted = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: { flops_budget: budget, priority: 0, timeout: 5_000_000, return_all_exits: true },
      inputs: [{ name: "image", datatype: "UINT8", shape: [1, 28, 28], data: f.pixels }],
    });
    expect(budgeted.status).toBe(200);
    const out = restOutputs(budgeted.json);
    expect(out.flops![0]).toBeLessThanOrEqual(budget);
    expect(budgeted.json.outputs.find((o: any) => o.name === "exit_classes").shape).toEqual([1, 6]);
    const top = await post(base, `/v2/models/${MODEL}/infer`, {
      parameters: { exit: 6 },
      inputs: [{ name: "image", datatype: "UINT8", shape: [1, 28, 28], data: f.pixels }],
      outputs: [{ name: "probabilities", parameters: { classification: 2 } }],
    });
    expect(top.json.outputs[0]).toMatchObject({ name: "probabilities", datatype: "BYTES", shape: [1, 2] });
    expect(top.json.outputs[0].data[0]).toMatch(/^0\.\d{6}:\d:/);
  });

  it("speaks Triton's binary tensor data extension both ways", async () => {
    const batch = fixtures.slice(0, 4);
    const data = tensorBytes(batch.flatMap((f) => f.input));
    const input = { name: "image", datatype: "FP32", shape: [4, 1, 28, 28], parameters: { binary_data_size: data.length } };
    const r = await post(
      base,
      `/v2/models/${MODEL}/infer`,
      ...binaryBody(
        { parameters: { exit: 2, binary_data_output: true }, inputs: [input], outputs: [{ name: "class" }, { name: "label" }, { name: "confidence" }] },
        data,
      ),
    );
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    const jsonLength = Number(r.headers.get("inference-header-content-length"));
    const doc = JSON.parse(r.buf.subarray(0, jsonLength).toString());
    const sizes: number[] = doc.outputs.map((o: any) => o.parameters.binary_data_size);
    expect(doc.outputs.map((o: any) => o.data)).toEqual([undefined, undefined, undefined]);
    expect(jsonLength + sizes.reduce((a, b) => a + b, 0)).toBe(r.buf.length);
    const grpc = await unary(s.clients.inference, "ModelInfer", {
      model_name: MODEL,
      inputs: [{ name: "image", datatype: "FP32", shape: [4, 1, 28, 28] }],
      raw_input_contents: [data],
      outputs: [{ name: "class" }, { name: "label" }, { name: "confidence" }],
      parameters: { exit: { int64_param: 2 } },
    });
    let off = jsonLength;
    sizes.forEach((n, i) => {
      expect(r.buf.subarray(off, off + n)).toEqual(grpc.raw_output_contents[i]);
      off += n;
    });
    // one output in binary, the rest in JSON
    const mixed = await post(
      base,
      `/v2/models/${MODEL}/infer`,
      ...binaryBody({ parameters: { exit: 2 }, inputs: [input], outputs: [{ name: "class", parameters: { binary_data: true } }, { name: "exit" }] }, data),
    );
    const mixedLength = Number(mixed.headers.get("inference-header-content-length"));
    const mixedDoc = JSON.parse(mixed.buf.subarray(0, mixedLength).toString());
    expect(mixedDoc.outputs[0]).toEqual({ name: "class", datatype: "INT64", shape: [4], parameters: { binary_data_size: 32 } });
    expect(mixedDoc.outputs[1].data).toEqual([2, 2, 2, 2]);
    expect(mixed.buf.subarray(mixedLength)).toEqual(grpc.raw_output_contents[0]);
  });

  it("reads gzip and deflate bodies and compresses answers for clients that accept it", async () => {
    const body = JSON.stringify({
      parameters: { exit: 1 },
      inputs: [{ name: "image", datatype: "FP32", shape: [4, 1, 28, 28], data: fixtures.slice(0, 4).flatMap((f) => f.input) }],
    });
    const zipped = await post(base, `/v2/models/${MODEL}/infer`, gzipSync(body), { "Content-Encoding": "gzip" });
    expect(zipped.status).toBe(200);
    // fetch asks for gzip and undoes it; the header says it was sent compressed
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    const plain = await new Promise<string>((resolve) => {
      const sock = connect(s.app.httpPort!, "127.0.0.1");
      let got = "";
      sock.on("data", (d) => (got += d.toString("latin1")));
      sock.on("end", () => resolve(got));
      sock.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    expect(plain).not.toMatch(/content-encoding/i); // no Accept-Encoding, no compression
    const bad = await post(base, `/v2/models/${MODEL}/infer`, Buffer.from("not gzip at all"), { "Content-Encoding": "gzip" });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^body: expected gzip-compressed data/);
    const unknown = await post(base, `/v2/models/${MODEL}/infer`, body, { "Content-Encoding": "br" });
    expect(unknown.status).toBe(415);
  });

  it("refuses every malformed body with 400 and a bounded message, never 500", async () => {
    const path = `/v2/models/${MODEL}/infer`;
    const good = { name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: fixtures[0]!.input };
    const bodies: [string | Buffer, Record<string, string>?][] = [
      ["", {}],
      ["{", {}],
      ["null", {}],
      ["[1,2]", {}],
      ['"text"', {}],
      [JSON.stringify({ inputs: "x" })],
      [JSON.stringify({ inputs: [] })],
      [JSON.stringify({ inputs: [null] })],
      [JSON.stringify({ inputs: [{ ...good, name: 7 }] })],
      [JSON.stringify({ inputs: [{ ...good, shape: [-1, 1, 28, 28] }] })],
      [JSON.stringify({ inputs: [{ ...good, shape: "1,1,28,28" }] })],
      [JSON.stringify({ inputs: [{ ...good, datatype: "INT32" }] })],
      [JSON.stringify({ inputs: [{ ...good, datatype: "FP16" }] })],
      [JSON.stringify({ inputs: [{ ...good, data: ["a"] }] })],
      [JSON.stringify({ inputs: [{ ...good, data: fixtures[0]!.input.slice(1) }] })],
      [JSON.stringify({ inputs: [{ ...good, data: undefined }] })],
      [JSON.stringify({ inputs: [{ ...good, datatype: "UINT8", data: Array(784).fill(300) }] })],
      [JSON.stringify({ inputs: [{ ...good, datatype: "UINT8", data: Array(784).fill(0.5) }] })],
      [JSON.stringify({ inputs: [{ name: "image_bytes", datatype: "BYTES", shape: [1], data: ["not an image"] }] })],
      [JSON.stringify({ inputs: [{ name: "image_bytes", datatype: "BYTES", shape: [1], data: [{ b64: 5 }] }] })],
      [JSON.stringify({ inputs: [good, good] })],
      [JSON.stringify({ inputs: [good], extra: 1 })],
      [JSON.stringify({ inputs: [good], id: 5 })],
      [JSON.stringify({ inputs: [good], parameters: { exit: 99 } })],
      [JSON.stringify({ inputs: [good], parameters: { exit: "two" } })],
      [JSON.stringify({ inputs: [good], parameters: { exit: [1] } })],
      [JSON.stringify({ inputs: [good], parameters: { speed: 1 } })],
      [JSON.stringify({ inputs: [good], parameters: { binary_data_output: "yes" } })],
      [JSON.stringify({ inputs: [good], outputs: [{ name: "nope" }] })],
      [JSON.stringify({ inputs: [good], outputs: "class" })],
      [JSON.stringify({ inputs: [good], outputs: [{ name: "class", parameters: { classification: 2 } }] })],
      [JSON.stringify({ inputs: [{ ...good, data: "[".repeat(200) }] })],
      [`{"inputs":[{"name":"image","datatype":"FP32","shape":[1,1,28,28],"data":${"[".repeat(5000)}${"]".repeat(5000)}}]}`],
      [`{"inputs":[{"name":"image","datatype":"FP32","shape":[1,1,28,28],"data":${"[".repeat(100)}1${"]".repeat(100)}}]}`],
      [JSON.stringify({ inputs: [{ ...good, data: undefined, parameters: { binary_data_size: 3136 } }] }), { "Inference-Header-Content-Length": "10" }],
      [JSON.stringify({ inputs: [good] }), { "Inference-Header-Content-Length": "99999" }],
      [JSON.stringify({ inputs: [good] }), { "Inference-Header-Content-Length": "-4" }],
      [`${JSON.stringify({ inputs: [good] })}trailing`, { "Inference-Header-Content-Length": String(JSON.stringify({ inputs: [good] }).length) }],
      [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80])],
      [`{"__proto__":{"x":1},"inputs":[${JSON.stringify(good)}]}`],
      [`{"inputs":[${JSON.stringify(good)}],"parameters":{"__proto__":1}}`],
    ];
    for (const [i, [body, headers]] of bodies.entries()) {
      const r = await post(base, path, body, headers);
      const what = `body ${i}: ${String(body).slice(-80)} ${JSON.stringify(headers ?? {})}`;
      expect(r.status, what).toBe(400);
      expect(typeof r.json.error, what).toBe("string");
      expect(r.json.error.length, what).toBeLessThanOrEqual(512);
    }
    const noHeader = await post(base, path, JSON.stringify({ inputs: [{ ...good, data: undefined, parameters: { binary_data_size: 3136 } }] }));
    expect(noHeader.json.error).toMatch(/^inputs\[0\]\.parameters\.binary_data_size: expected the header Inference-Header-Content-Length/);
    const tooLarge = await post(base, path, Buffer.alloc(4 * 1024 * 1024 + 1, 32));
    expect(tooLarge.status).toBe(413);
    const bomb = await post(base, path, gzipSync(Buffer.alloc(64 * 1024 * 1024, 32)), { "Content-Encoding": "gzip" });
    expect(bomb.status).toBe(413);
    expect(bomb.json.error).toMatch(/gzip-decoded body is larger than maxMessageBytes/);
  });

  it("answers unknown paths 404, wrong methods 405, bad tenants 400, and garbage on the socket without a handler", async () => {
    expect((await call(base, "/v1/models/x:predict")).status).toBe(404);
    expect((await call(base, "/v2/models/x/infer/more")).status).toBe(404);
    const wrong = await call(base, `/v2/models/${MODEL}/infer`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect((await call(base, "/v2/models/%E0%A4%A/ready")).status).toBe(400);
    expect((await call(base, "/v2/repository/index", { method: "POST" })).status).toBe(404); // admin listener only
    const tenant = await call(base, "/v2", { headers: { "x-tenant": "bad tenant!" } });
    expect(tenant.status).toBe(400);
    expect(tenant.json.error).toMatch(/^header 'x-tenant': expected a tenant name/);
    expect(await rawExchange(s.app.httpPort!, ["\x16\x03\x01garbage\r\n\r\n"])).toMatch(/^HTTP\/1\.1 400/);
    expect(await rawExchange(s.app.httpPort!, [`GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`])).toMatch(/^HTTP\/1\.1 431/);
  });

  it("cuts off a slow sender after httpRequestTimeoutMs and keeps connections alive between requests", async () => {
    const t0 = Date.now();
    const slow = await rawExchange(
      s.app.httpPort!,
      ["POST /v2/models/x/infer HTTP/1.1\r\n", "Host: x\r\n", "Content-Length: 100\r\n\r\n", "{", "}"],
      700,
      10_000,
    );
    expect(slow).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - t0).toBeLessThan(6000);
    const two = await rawExchange(s.app.httpPort!, [
      "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]);
    expect(two.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  });

  it("serves the repository's index, load and unload on the admin listener", async () => {
    const index = await post(admin, "/v2/repository/index", "");
    expect(index.json).toEqual([{ name: MODEL, version: "1", state: "READY", reason: "" }]);
    expect((await post(admin, "/v2/repository/index", { ready: true })).json).toHaveLength(1);
    const refused = await post(admin, `/v2/repository/models/${MODEL}/load`, { parameters: { config: "{}" } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/^parameters: expected none/);
    expect((await post(admin, "/v2/repository/index", "[]")).status).toBe(400);
    expect((await call(admin, "/v2/health/live")).status).toBe(404); // admin REST serves the repository only
  });

  it("counts REST calls by protocol beside gRPC's", async () => {
    await post(base, `/v2/models/${MODEL}/infer`, { inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: fixtures[0]!.input }] });
    await unary(s.clients.inference, "ModelInfer", {
      model_name: MODEL,
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], contents: { fp32_contents: fixtures[0]!.input } }],
    });
    const text = await s.app.metrics.registry.metrics();
    expect(text).toMatch(/^ranet_requests_total\{method="ModelInfer",code="OK",protocol="rest"\} [1-9]/m);
    expect(text).toMatch(/^ranet_requests_total\{method="ModelInfer",code="OK",protocol="grpc"\} [1-9]/m);
    expect(text).toMatch(/^ranet_requests_total\{method="ModelInfer",code="INVALID_ARGUMENT",protocol="rest"\} [1-9]/m);
    expect(text).toMatch(/^ranet_request_duration_seconds_count\{method="ModelInfer",protocol="rest"\} [1-9]/m);
  });
});

describe("REST cancellation", () => {
  let s: Server;
  beforeAll(async () => {
    // a lone request waits up to 1.5 s for its batch to fill: time for its client to leave
    s = await startServer(["--controller", "false", "--max-queue-delay-ms", "1500", "--dispatch-when-idle", "false"]);
  });
  afterAll(() => s.stop());

  it("withdraws a request whose client disconnects before its answer", async () => {
    const dropped = async () => Number(/^ranet_dropped_total\{[^}]*reason="cancelled"\} (\S+)$/m.exec(await s.app.metrics.registry.metrics())?.[1] ?? 0);
    const before = await dropped();
    const body = JSON.stringify({ inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: fixtures[0]!.input }] });
    const answer = await rawExchange(
      s.app.httpPort!,
      [`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
      0,
      200, // the client leaves after 200 ms
    );
    expect(answer).toBe("");
    await new Promise((r) => setTimeout(r, 2000));
    expect(await dropped()).toBe(before + 1);
  });
});

describe("REST off", () => {
  it("httpEnabled false opens no REST port, gRPC serves as before", async () => {
    const s = await startServer(["--http-enabled", "false"]);
    try {
      expect(s.app.httpPort).toBeUndefined();
      expect(s.app.adminHttpPort).toBeUndefined();
      expect((await unary(s.clients.inference, "ServerReady", {})).ready).toBe(true);
    } finally {
      await s.stop();
    }
  });
});
