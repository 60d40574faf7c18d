import { once } from "node:events";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { parityFixtures, tensorBytes } from "../support/fixtures.js";
import { LOOPBACK_FLAGS, spawnServer } from "../support/serverProcess.js";

const fixture = parityFixtures()[0]!;

describe("process lifecycle", () => {
  it("exits non-zero with a clear message when the model is missing", async () => {
    const s = await spawnServer(["--model-dir", "/nonexistent/model", "--port", "0", "--metrics-port", "0"]);
    const [code] = await once(s.proc, "exit");
    expect(code).toBe(1);
    expect(s.lines.find((l) => l.level === 60)?.msg).toMatch(/cannot read model manifest \/nonexistent\/model\/manifest.json/);
  });

  it("exits non-zero naming the file when a stage file is corrupt", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "model-"));
    cpSync("models/repository/ranet-fmnist/1", dir, { recursive: true });
    writeFileSync(path.join(dir, "stage3.onnx"), Buffer.from("not an onnx graph"));
    const s = await spawnServer(["--model-dir", dir, "--port", "0", "--metrics-port", "0"]);
    const [code] = await once(s.proc, "exit");
    expect(code).toBe(1);
    expect(s.lines.find((l) => l.level === 60)?.msg).toContain(`cannot load stage ${path.join(dir, "stage3.onnx")}`);
  });

  it("exits 1 naming the cause when the gRPC port is taken (and frees the model it loaded)", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as net.AddressInfo).port;
    const s = spawnServer(["--host", "127.0.0.1", "--port", String(port), "--metrics-port", "0"]);
    const [code] = await once(s.proc, "exit");
    blocker.close();
    expect(code).toBe(1);
    expect(s.lines.find((l) => l.level === 60)?.msg).toMatch(/cannot start: .*(address already in use|EADDRINUSE|No address added)/i);
  });

  it("rejects a bad config key with exit code 2 naming the key", async () => {
    const s = await spawnServer(["--max-batch-size", "zero"]);
    const [code] = await once(s.proc, "exit");
    expect(code).toBe(2);
    expect(s.stderr()).toMatch(/config key 'maxBatchSize' from flag --max-batch-size/);
  });

  it("on SIGTERM turns NOT_SERVING, finishes admitted calls, refuses new ones and exits 0", async () => {
    const s = await spawnServer([...LOOPBACK_FLAGS, "--max-queue-delay-ms", "300", "--dispatch-when-idle", "false", "--shutdown-grace-ms", "5000"]);
    const { grpcPort } = await s.serving;
    const c = makeClients(`127.0.0.1:${grpcPort}`);
    const req = { tensor: { shape: [1, 28, 28], data: tensorBytes(fixture.input) } };
    const watch = c.health.Watch({ service: "" });
    const statuses: string[] = [];
    watch.on("data", (r: { status: string }) => statuses.push(r.status));
    watch.on("error", () => {});
    await unary(c.classifier, "Classify", req);
    // admitted: waits ~300 ms in the stage queue when SIGTERM arrives
    const admitted = Array.from({ length: 5 }, () => unary(c.classifier, "Classify", req));
    await new Promise((r) => setTimeout(r, 50));
    s.proc.kill("SIGTERM");
    const results = await Promise.allSettled(admitted);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill("fulfilled"));
    const late = await unary(c.classifier, "Classify", req).then(
      () => "OK",
      (e) => e.code,
    );
    expect(late).not.toBe("OK");
    const [code] = await once(s.proc, "exit");
    expect(code).toBe(0);
    expect(statuses[0]).toBe("SERVING");
    expect(statuses).toContain("NOT_SERVING");
    const drainIdx = s.lines.findIndex((l) => l.msg === "draining");
    expect(drainIdx).toBeGreaterThan(0);
    c.close();
  });

  it("on SIGTERM answers admitted REST requests, closes keep-alive connections and refuses new requests", async () => {
    const s = await spawnServer([...LOOPBACK_FLAGS, "--max-queue-delay-ms", "300", "--dispatch-when-idle", "false", "--shutdown-grace-ms", "5000"]);
    const { httpPort } = await s.serving;
    const url = `http://127.0.0.1:${httpPort}/v2/models/ranet-fmnist/infer`;
    const body = JSON.stringify({ inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28], data: fixture.input }] });
    const infer = () =>
      fetch(url, { method: "POST", body }).then(
        async (r) => ({ status: r.status, connection: r.headers.get("connection"), text: await r.text() }),
        () => ({ status: 0, connection: null, text: "" }),
      );
    expect((await infer()).status).toBe(200);
    // admitted: waits ~300 ms in the stage queue when SIGTERM arrives
    const admitted = Array.from({ length: 5 }, infer);
    await new Promise((r) => setTimeout(r, 50));
    s.proc.kill("SIGTERM");
    const results = await Promise.all(admitted);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill(200));
    // answered while draining: the connection is not kept for another request
    expect(results.map((r) => r.connection)).toEqual(Array(5).fill("close"));
    const late = await infer();
    expect(late.status).not.toBe(200); // 503 while the drain finishes, or no listener at all
    const [code] = await once(s.proc, "exit");
    expect(code).toBe(0);
  });
});

describe("shutdown under steady load", () => {
  it("SIGTERM: NOT_SERVING first, every admitted request answered, new ones UNAVAILABLE, exit 0 within the grace period", async () => {
    const graceMs = 5000;
    // batches wait up to 100 ms to fill (no dispatch to an idle worker), so admitted requests are still in flight while the server drains
    const s = spawnServer([...LOOPBACK_FLAGS, "--shutdown-grace-ms", String(graceMs), "--max-queue-delay-ms", "100", "--dispatch-when-idle", "false"]);
    const { grpcPort } = await s.serving;
    const c = makeClients(`127.0.0.1:${grpcPort}`);
    const req = { tensor: { shape: [1, 28, 28], data: tensorBytes(fixture.input) } };
    const events: { t: number; what: string }[] = [];
    const watch = c.health.Watch({ service: "ranet.v1.Classifier" });
    watch.on("data", (r: { status: string }) => events.push({ t: performance.now(), what: r.status }));
    watch.on("error", () => {});
    type Answer = { code: string; details: string };
    const beforeTerm: Promise<Answer>[] = [];
    const all: Promise<Answer>[] = [];
    let termAt = Infinity;
    // open loop: 2 requests every 5 ms, whatever the answers
    const sender = setInterval(() => {
      for (let i = 0; i < 2; i++) {
        const p = unary(c.classifier, "Classify", req, 10_000).then(
          (): Answer => ({ code: "OK", details: "" }),
          (e): Answer => ({ code: status[e.code] as string, details: String(e.details) }),
        );
        void p.then((a) => a.code === "UNAVAILABLE" && events.push({ t: performance.now(), what: "UNAVAILABLE" }));
        all.push(p);
        if (performance.now() < termAt) beforeTerm.push(p);
      }
    }, 5);
    await new Promise((r) => setTimeout(r, 1500));
    termAt = performance.now();
    s.proc.kill("SIGTERM");
    const [code] = await once(s.proc, "exit");
    const exitMs = performance.now() - termAt;
    clearInterval(sender);
    const before = await Promise.all(beforeTerm);
    const answers = await Promise.all(all);
    c.close();
    const countBy = (xs: Answer[]) => {
      const counts: Record<string, number> = {};
      for (const x of xs) counts[x.code] = (counts[x.code] ?? 0) + 1;
      return counts;
    };
    const refusedAtAdmission = (a: Answer) => a.code === "UNAVAILABLE" && /shutting down/.test(a.details);
    const refusedByServer = answers.filter(refusedAtAdmission).length;
    console.log(
      `shutdown under load: ${before.length} requests sent before SIGTERM: ${JSON.stringify(countBy(before))}; ` +
        `all ${answers.length}: ${JSON.stringify(countBy(answers))}, ${refusedByServer} of them refused by the draining server; exit ${code} after ${exitMs.toFixed(0)} ms`,
    );
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(graceMs);
    // sent before the signal: answered, or (still in transit when draining began) refused at
    // admission by the server; none admitted and then dropped (cancelled, connection lost)
    expect(before.filter((a) => a.code !== "OK" && !refusedAtAdmission(a))).toEqual([]);
    expect(before.filter((a) => a.code === "OK").length).toBeGreaterThan(0.9 * before.length);
    expect(answers.every((a) => a.code === "OK" || a.code === "UNAVAILABLE")).toBe(true);
    expect(refusedByServer).toBeGreaterThan(0); // new requests were refused while draining, not dropped
    const notServing = events.find((e) => e.what === "NOT_SERVING");
    const firstRefusal = events.find((e) => e.what === "UNAVAILABLE");
    expect(notServing).toBeDefined();
    expect(notServing!.t).toBeLessThanOrEqual(firstRefusal!.t);
  });
});
