/**
 * Issue 12's defects, each reproduced from outside: wire-level garbage, oversized echoes, both
 * oneof members, stalled connections at shutdown, stale queue depth, stream back-pressure,
 * admin services off the public port, strict OIP parameters, connections closed under calls.
 */
import { once } from "node:events";
import http2 from "node:http2";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { makeClients, unary } from "../../src/cli/clients.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import type { InferParameter } from "../../src/generated/inference/InferParameter.js";
import { loadProtos } from "../../src/grpc/protos.js";
import { MAX_STATUS_MESSAGE_BYTES } from "../../src/grpc/statusFor.js";
import { MODEL_DIR, parityFixtures, startServer, tensorBytes } from "../support/fixtures.js";
import { pythonCalls } from "../support/pythonGrpc.js";
import { decode, encode, type RawStatus, rawBidi, rawServerStream, rawUnary } from "../support/rawGrpc.js";
import { spawnServer } from "../support/serverProcess.js";

const fixture = parityFixtures()[0]!;
const TENSOR = { shape: [1, 28, 28], data: tensorBytes(fixture.input) };
const LONG = "m".repeat(10_000);

/** Status codes the README documents for client mistakes and load; never INTERNAL or UNKNOWN. */
const DOCUMENTED = new Set(["OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "DEADLINE_EXCEEDED", "UNAVAILABLE"]);

interface Method {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  admin: boolean;
}

/** Every RPC of every service the server exposes, reflection included, with the listener it lives on. */
function allMethods(): Method[] {
  const out: Method[] = [];
  for (const [name, def] of Object.entries(loadProtos())) {
    if (!("format" in def) && typeof def === "object") {
      for (const m of Object.values(def as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>)) {
        out.push({
          path: m.path,
          requestStream: m.requestStream,
          responseStream: m.responseStream,
          admin: /BudgetAdmin|ModelAdmin/.test(name) || /RepositoryModel(Load|Unload)$/.test(m.path),
        });
      }
    }
  }
  for (const v of ["v1", "v1alpha"]) {
    out.push({ path: `/grpc.reflection.${v}.ServerReflection/ServerReflectionInfo`, requestStream: true, responseStream: true, admin: false });
  }
  return out;
}

/** Wire-level garbage: bytes no request message decodes from, then bytes that may or may not decode. */
const NEVER_DECODES = Buffer.from([0xff, 0xff, 0xff]); // a tag varint cut short
const GARBAGE: [string, Buffer][] = [
  ["truncated varint", Buffer.from([0x08, 0x80])],
  ["wrong wire type", Buffer.from([0x0f, 0x01])],
  ["length claiming 2 GB", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07])],
  ["groups nested 20,000 deep", Buffer.alloc(20_000, 0x0b)],
  ["random bytes", Buffer.from(Array.from({ length: 97 }, (_, i) => (i * 131 + 7) & 0xff))],
  // ClassifyRequest.tensor.values packed with 7 bytes (not a multiple of 4)
  ["misaligned packed floats", Buffer.from([0x22, 0x09, 0x1a, 0x07, 1, 2, 3, 4, 5, 6, 7])],
];

describe("hardening", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let address: string;
  let adminAddress: string;
  beforeAll(async () => {
    s = await startServer();
    address = `127.0.0.1:${s.app.grpcPort}`;
    adminAddress = `127.0.0.1:${s.app.adminPort}`;
  });
  afterAll(() => s.stop());

  async function call(m: Method, body: Buffer): Promise<RawStatus> {
    const at = m.admin ? adminAddress : address;
    if (!m.requestStream && !m.responseStream) return rawUnary(at, m.path, body);
    if (!m.requestStream) return rawServerStream(at, m.path, body);
    return (await rawBidi(at, m.path, [body])).status;
  }

  it("answers undecodable bytes with INVALID_ARGUMENT naming the message, on every RPC of every service", async () => {
    const methods = allMethods();
    expect(methods.length).toBe(23); // Classifier 3, OIP 11, Health 2, BudgetAdmin 3, ModelAdmin 2, reflection 2
    for (const m of methods) {
      if (m.path === "/ranet.v1.Classifier/ClassifyStream") continue; // per item, below
      const r = await call(m, NEVER_DECODES);
      expect({ path: m.path, ...r }).toMatchObject({
        path: m.path,
        code: "INVALID_ARGUMENT",
        details: expect.stringMatching(/^the request is not a valid [\w.]+ \(3 bytes\): /),
      });
    }
    for (const m of methods) {
      if (m.path.endsWith("ReloadModel") || m.path.endsWith("SetBudget") || m.path.endsWith("/ClassifyStream")) continue;
      for (const [what, bytes] of GARBAGE) {
        const r = await call(m, bytes);
        expect(DOCUMENTED.has(r.code), `${m.path} with ${what}: ${r.code} ${r.details}`).toBe(true);
      }
    }
    const undecodable = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    expect(undecodable).toMatch(/^ranet_undecodable_requests_total\{method="Classify"\} [1-9]/m);
  });

  it("answers a garbage item of ClassifyStream with its error and goes on with the stream", async () => {
    const good = (id: string) => encode("ranet.v1.ClassifyRequest", { request_id: id, tensor: TENSOR });
    const { responses, status } = await rawBidi(address, "/ranet.v1.Classifier/ClassifyStream", [
      good("a"),
      NEVER_DECODES,
      ...GARBAGE.map(([, b]) => b),
      good("b"),
    ]);
    expect(status.code).toBe("OK");
    const answers = responses.map((b) => decode("ranet.v1.ClassifyResponse", b));
    expect(answers).toHaveLength(3 + GARBAGE.length);
    expect(
      answers
        .filter((a) => !a.error)
        .map((a) => a.request_id)
        .sort(),
    ).toEqual(expect.arrayContaining(["a", "b"]));
    const bad = answers.find((a) => a.error?.message?.startsWith("stream message 1: "));
    expect(bad).toMatchObject({ request_id: "", error: { code: grpc.status.INVALID_ARGUMENT } });
    for (const a of answers) if (a.error) expect(DOCUMENTED.has(grpc.status[a.error.code]!)).toBe(true);
  });

  it("never echoes more than a bounded piece of client input into a status, on any string field", async () => {
    const infer = (over: Record<string, unknown>) =>
      encode("inference.ModelInferRequest", {
        model_name: "ranet-fmnist",
        inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
        raw_input_contents: [TENSOR.data],
        ...over,
      });
    const cases: [string, string, Buffer, string][] = [
      ["Classify model", "/ranet.v1.Classifier/Classify", encode("ranet.v1.ClassifyRequest", { model: LONG, tensor: TENSOR }), "NOT_FOUND"],
      ["Classify request_id", "/ranet.v1.Classifier/Classify", encode("ranet.v1.ClassifyRequest", { request_id: LONG, tensor: TENSOR }), "OK"],
      ["GetModelMetadata model", "/ranet.v1.Classifier/GetModelMetadata", encode("ranet.v1.GetModelMetadataRequest", { model: LONG }), "NOT_FOUND"],
      ["ModelInfer model_name", "/inference.GRPCInferenceService/ModelInfer", infer({ model_name: LONG }), "NOT_FOUND"],
      ["ModelInfer model_version", "/inference.GRPCInferenceService/ModelInfer", infer({ model_version: LONG }), "NOT_FOUND"],
      ["ModelInfer id", "/inference.GRPCInferenceService/ModelInfer", infer({ id: LONG }), "OK"],
      [
        "ModelInfer inputs.name",
        "/inference.GRPCInferenceService/ModelInfer",
        infer({ inputs: [{ name: LONG, datatype: "FP32", shape: [1, 1, 28, 28] }] }),
        "INVALID_ARGUMENT",
      ],
      [
        "ModelInfer inputs.datatype",
        "/inference.GRPCInferenceService/ModelInfer",
        infer({ inputs: [{ name: "image", datatype: LONG, shape: [1, 1, 28, 28] }] }),
        "INVALID_ARGUMENT",
      ],
      ["ModelInfer parameters key", "/inference.GRPCInferenceService/ModelInfer", infer({ parameters: { [LONG]: { bool_param: true } } }), "INVALID_ARGUMENT"],
      ["ModelInfer string_param", "/inference.GRPCInferenceService/ModelInfer", infer({ parameters: { exit: { string_param: LONG } } }), "INVALID_ARGUMENT"],
      ["ModelInfer outputs.name", "/inference.GRPCInferenceService/ModelInfer", infer({ outputs: [{ name: LONG }] }), "INVALID_ARGUMENT"],
      ["ModelConfig name", "/inference.GRPCInferenceService/ModelConfig", encode("inference.ModelConfigRequest", { name: LONG }), "NOT_FOUND"],
      ["ModelStatistics name", "/inference.GRPCInferenceService/ModelStatistics", encode("inference.ModelStatisticsRequest", { name: LONG }), "NOT_FOUND"],
      [
        "ModelMetadata version",
        "/inference.GRPCInferenceService/ModelMetadata",
        encode("inference.ModelMetadataRequest", { name: "ranet-fmnist", version: LONG }),
        "NOT_FOUND",
      ],
      ["Health service", "/grpc.health.v1.Health/Check", encode("grpc.health.v1.HealthCheckRequest", { service: LONG }), "NOT_FOUND"],
    ];
    for (const [what, path, body, code] of cases) {
      const r = await rawUnary(address, path, body);
      expect({ what, code: r.code }).toEqual({ what, code });
      expect(Buffer.byteLength(r.details), `${what}: ${r.details.length} characters`).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
      if (code !== "OK") expect(r.details, what).toMatch(/\(10000 characters\)/);
    }
    const reload = await rawUnary(adminAddress, "/ranet.v1.ModelAdmin/ReloadModel", encode("ranet.v1.ReloadModelRequest", { model_dir: LONG }));
    expect(reload.code).toBe("INVALID_ARGUMENT");
    expect(Buffer.byteLength(reload.details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
  });

  it("a C-core client (Python) keeps its valid calls working beside calls with a 10,000-character model name", async () => {
    const report = await pythonCalls(address, [
      {
        name: "long",
        path: "/ranet.v1.Classifier/Classify",
        body: encode("ranet.v1.ClassifyRequest", { model: LONG, tensor: TENSOR }),
        count: 20,
        timeoutS: 30,
      },
      { name: "valid", path: "/ranet.v1.Classifier/Classify", body: encode("ranet.v1.ClassifyRequest", { tensor: TENSOR }), count: 300, timeoutS: 30 },
    ]);
    expect(report.long!.codes).toEqual({ NOT_FOUND: 20 });
    expect(report.valid!.codes).toEqual({ OK: 300 });
  });

  it("refuses a message carrying both members of a oneof, in either order", async () => {
    const image = encode("ranet.v1.ClassifyRequest", { image: Buffer.from("not a png") });
    const tensor = encode("ranet.v1.ClassifyRequest", { tensor: TENSOR });
    for (const both of [Buffer.concat([image, tensor]), Buffer.concat([tensor, image])]) {
      expect(await rawUnary(address, "/ranet.v1.Classifier/Classify", both)).toEqual({
        code: "INVALID_ARGUMENT",
        details: "input: expected exactly one of image, tensor (a oneof), got image and tensor both set",
      });
    }
    const setBoth = Buffer.concat([
      encode("ranet.v1.SetBudgetRequest", { target_flops: 8_000_000 }),
      encode("ranet.v1.SetBudgetRequest", { target_fraction: 0.5 }),
    ]);
    expect((await rawUnary(adminAddress, "/ranet.v1.BudgetAdmin/SetBudget", setBoth)).details).toMatch(
      /^target: expected exactly one of target_flops, target_fraction/,
    );
    const param = Buffer.concat([encode("inference.InferParameter", { int64_param: 6 }), encode("inference.InferParameter", { string_param: "1" })]);
    const infer = encode("inference.ModelInferRequest", {
      model_name: "ranet-fmnist",
      inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
      raw_input_contents: [TENSOR.data],
    });
    // parameters map entry {key: "exit", value: <both members>}: field 4, an entry of key (1) and value (2)
    const entry = Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from("exit"), Buffer.from([0x12, param.length]), param]);
    const withParam = Buffer.concat([infer, Buffer.from([0x22, entry.length]), entry]);
    expect((await rawUnary(address, "/inference.GRPCInferenceService/ModelInfer", withParam)).details).toMatch(
      /^parameters\.exit: expected exactly one of bool_param/,
    );
  });

  it("parses OIP parameters strictly: decimal digits and true/false only", async () => {
    const infer = (parameters: Record<string, InferParameter>) =>
      unary(s.clients.inference, "ModelInfer", {
        model_name: "ranet-fmnist",
        inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
        raw_input_contents: [TENSOR.data],
        outputs: [{ name: "exit" }],
        parameters,
      }).then(
        (r) => `OK exit ${r.raw_output_contents[0]!.readInt32LE(0)}`,
        (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`,
      );
    for (const bad of ["0x6", " 6 ", "6.0", "+6", "-1", "1e1", "", "6\n"]) {
      expect(await infer({ exit: { string_param: bad } })).toMatch(/^INVALID_ARGUMENT: parameters\.exit: expected a non-negative integer/);
    }
    expect(await infer({ exit: { string_param: "6" } })).toBe("OK exit 6");
    expect(await infer({ exit: { int64_param: 3 } })).toBe("OK exit 3");
    expect(await infer({ exit: { double_param: 2.5 } })).toMatch(/^INVALID_ARGUMENT: parameters\.exit/);
    expect(await infer({ exit: { int64_param: 6 }, anytime: { string_param: "true" } })).toBe("OK exit 6");
    expect(await infer({ anytime: { string_param: "yes" } })).toMatch(/^INVALID_ARGUMENT: parameters\.anytime: expected a bool_param/);
  });

  it("serves the admin services only on the admin listener", async () => {
    const pub = makeClients(address, {}, undefined, address); // admin clients aimed at the public port
    const codeName = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: grpc.ServiceError) => grpc.status[e.code],
      );
    expect(await codeName(unary(pub.budget, "GetBudget", {}))).toBe("UNIMPLEMENTED");
    expect(await codeName(unary(pub.budget, "SetBudget", { target_fraction: 0.5 }))).toBe("UNIMPLEMENTED");
    expect(await codeName(unary(pub.modelAdmin, "GetModel", {}))).toBe("UNIMPLEMENTED");
    expect(await codeName(unary(pub.modelAdmin, "ReloadModel", { model_dir: "" }))).toBe("UNIMPLEMENTED");
    pub.close();
    expect((await unary(s.clients.modelAdmin, "GetModel", {})).name).toBe("ranet-fmnist");
    expect(s.config.adminHost).toBe("127.0.0.1");
    expect(loadConfig([], {})).toMatchObject({ adminHost: "127.0.0.1", adminPort: 50052, adminEnabled: true });
  });

  it("logs a connection that closes under running calls, naming the burst of client cancellations", async () => {
    const lines: { level: number; msg: string; failedCalls?: number; clientCancelsLast10s?: number }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const config = loadConfig(
      ["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--metrics-enabled", "false", "--model-dir", MODEL_DIR],
      {},
    ) as Config;
    const app = await startApp(config, log);
    try {
      const session = http2.connect(`http://127.0.0.1:${app.grpcPort}`);
      session.on("error", () => {});
      await once(session, "connect");
      const headers = (path: string) => ({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      const running = session.request(headers("/ranet.v1.Classifier/ClassifyStream")); // a call left open
      running.on("error", () => {});
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 1500; i++) {
        const req = session.request(headers("/ranet.v1.Classifier/Classify"));
        req.on("error", () => {});
        req.close(http2.constants.NGHTTP2_CANCEL);
      }
      const until = Date.now() + 5000;
      while (!lines.some((l) => /closed by the protocol layer/.test(l.msg)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      session.destroy();
      const warn = lines.find((l) => /HTTP\/2 connection closed/.test(l.msg));
      expect(warn).toMatchObject({ level: 40, failedCalls: 1, msg: expect.stringMatching(/rapid-reset protection/) });
      expect(warn!.clientCancelsLast10s).toBeGreaterThan(300);
      // the server goes on serving other connections
      const c = makeClients(`127.0.0.1:${app.grpcPort}`);
      expect((await unary(c.classifier, "Classify", { tensor: TENSOR })).exit).toBeGreaterThan(0);
      c.close();
    } finally {
      await app.shutdown();
    }
  });
});

describe("hardening: queues and streams", () => {
  it("reports the queue depth after requests leave by deadline or cancellation", async () => {
    const s = await startServer(["--max-queue-delay-ms", "3000", "--dispatch-when-idle", "false", "--max-batch-size", "64"]);
    try {
      const depth = async () => {
        const text = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
        return Number(/^ranet_queue_depth\{model="ranet-fmnist",version="1",stage="1"\} (\S+)$/m.exec(text)?.[1]);
      };
      const timedOut = Array.from({ length: 10 }, () => unary(s.clients.classifier, "Classify", { tensor: TENSOR }, 300).catch((e) => e.code));
      expect(await Promise.all(timedOut)).toEqual(Array(10).fill(grpc.status.DEADLINE_EXCEEDED));
      expect(await depth()).toBe(0);
      const calls = Array.from({ length: 5 }, () => s.clients.classifier.Classify({ tensor: TENSOR }, () => {}));
      await new Promise((r) => setTimeout(r, 200));
      expect(await depth()).toBe(5);
      calls.forEach((c: grpc.ClientUnaryCall) => {
        c.cancel();
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(await depth()).toBe(0);
    } finally {
      await s.stop();
    }
  });

  it("slows a single fast ClassifyStream writer instead of refusing its items", async () => {
    // the server in its own process, so the writer can outrun it (as a remote client does)
    // a first-stage queue bound well above one stream's allowance, and no time-based refusals
    const p = spawnServer([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--metrics-port",
      "0",
      "--max-queue-size",
      "100",
      "--max-queue-wait-ms",
      "0",
      "--max-stream-inflight",
      "64",
    ]);
    const { grpcPort } = await p.serving;
    const c = makeClients(`127.0.0.1:${grpcPort}`);
    try {
      const call = c.classifier.ClassifyStream();
      const codes: Record<string, number> = {};
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (r: { error?: { code: number } | null }) => {
          const k = r.error ? grpc.status[r.error.code]! : "OK";
          codes[k] = (codes[k] ?? 0) + 1;
        });
        call.on("end", resolve);
        call.on("error", reject);
      });
      for (let i = 0; i < 2000; i++) call.write({ request_id: String(i), tensor: TENSOR });
      call.end();
      await done;
      expect(codes).toEqual({ OK: 2000 });
    } finally {
      c.close();
      await p.stop();
    }
  });
});

describe("hardening: shutdown with stalled connections", () => {
  it("exits 0 within the grace period while a metrics request and a gRPC connection stall", async () => {
    const graceMs = 3000;
    const p = spawnServer(["--host", "127.0.0.1", "--port", "0", "--metrics-host", "127.0.0.1", "--metrics-port", "0", "--shutdown-grace-ms", String(graceMs)]);
    const { grpcPort, metricsPort } = await p.serving;
    const stalledHttp = net.connect(metricsPort!, "127.0.0.1");
    await once(stalledHttp, "connect");
    stalledHttp.write("GET /metrics HTTP/1.1\r\nHost: x\r\n"); // never the blank line that ends the request
    stalledHttp.on("error", () => {});
    const stalledGrpc = net.connect(grpcPort, "127.0.0.1");
    await once(stalledGrpc, "connect");
    stalledGrpc.write("PRI * HTTP/2.0\r\n"); // half an HTTP/2 preface
    stalledGrpc.on("error", () => {});
    const c = makeClients(`127.0.0.1:${grpcPort}`);
    const idle = c.classifier.ClassifyStream(); // a stream the client keeps open and silent
    idle.on("error", () => {});
    idle.on("data", () => {});
    await new Promise((r) => setTimeout(r, 200));
    p.proc.kill("SIGTERM");
    const [code] = await once(p.proc, "exit");
    c.close();
    stalledHttp.destroy();
    stalledGrpc.destroy();
    expect(code).toBe(0); // nothing admitted was left unanswered
    // the drain ran to its end (the watchdog past the grace period would have exited 1 without it)
    expect(p.lines.some((l) => l.msg === "stopped" && l.drained === true)).toBe(true);
  });
});
