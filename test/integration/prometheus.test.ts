import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { unary } from "../../src/cli/clients.js";
import { parityFixtures, repositoryOf, startServer, tensorBytes } from "../support/fixtures.js";

const PROMETHEUS = "/usr/bin/prometheus";
const RULES = path.resolve("deploy/prometheus/rules.yaml");
const fixtures = parityFixtures();

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Every PromQL expression the dashboard and the rules use (alerts: both sides of the comparison). */
function expressions(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync("deploy/grafana/ranet-dashboard.json", "utf8"));
  const out: { where: string; expr: string }[] = [];
  for (const p of dash.panels)
    for (const t of p.targets)
      out.push({ where: `panel '${p.title}'`, expr: t.expr.replaceAll("$__rate_interval", "30s").replaceAll("$pod", ".*").replaceAll("$model", ".*") });
  out.push({ where: "pod variable", expr: "ranet_model_info" });
  const rules = parseAllDocuments(readFileSync(RULES, "utf8"))[0]!.toJS();
  for (const g of rules.groups) {
    for (const r of g.rules) {
      if (r.record) {
        out.push({ where: `rule ${r.record}`, expr: r.expr }, { where: `recorded ${r.record}`, expr: r.record });
      } else {
        // an alert returns nothing while healthy: check that every series it reads exists
        // (whether it fires is alerts.test.ts's business, with promtool)
        for (const name of new Set<string>(r.expr.match(/\b(ranet[:_][a-z0-9_:]+|up)\b/g) ?? [])) out.push({ where: `alert ${r.alert} reads`, expr: name });
      }
    }
  }
  return out;
}

describe.runIf(existsSync(PROMETHEUS))("a real Prometheus scraping a live server", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let prom: ChildProcess;
  let promUrl: string;
  beforeAll(async () => {
    // two models with different targets: every per-model series and rule has a `model` label
    // the saturation rule reads the configured wait bound: the default, set here (test servers have none)
    s = await startServer(["--model-repository", repositoryOf(["ranet-a", "ranet-b"]), "--max-queue-wait-ms", "500"]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "prom-"));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(dir, "prometheus.yml"),
      [
        "global: {scrape_interval: 1s, evaluation_interval: 1s}",
        `rule_files: ["${RULES}"]`,
        "scrape_configs:",
        "  - job_name: ranet",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${s.app.metricsPort}"]`,
        '        labels: {pod: "ranet-0", namespace: "test"}',
      ].join("\n"),
    );
    prom = spawn(
      PROMETHEUS,
      [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
      {
        stdio: "ignore",
      },
    );
    // steady mixed traffic for a few seconds: adaptive, forced exits, KServe, a few bad requests
    const until = Date.now() + 8000;
    const req = (i: number) => ({
      model: i % 2 ? "ranet-a" : "ranet-b",
      tensor: { shape: [1, 28, 28], data: tensorBytes(fixtures[i % fixtures.length]!.input) },
      options: { exit: i % 5 === 0 ? 6 : 0 },
    });
    const loop = async (w: number) => {
      for (let i = w; Date.now() < until; i += 4) {
        await unary(s.clients.classifier, "Classify", req(i)).catch(() => {});
        if (i % 10 === 0) await unary(s.clients.classifier, "Classify", { tensor: { shape: [2], values: [1, 2] } }).catch(() => {});
        if (i % 7 === 0)
          await unary(s.clients.inference, "ModelInfer", {
            model_name: "ranet-b",
            inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }],
            raw_input_contents: [tensorBytes(fixtures[0]!.input)],
          });
      }
    };
    await Promise.all([0, 1, 2, 3].map(loop));
  });
  afterAll(async () => {
    prom?.kill("SIGTERM");
    await s?.stop();
  });

  async function query(expr: string): Promise<any[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body: any = await res.json();
    if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  it("every dashboard and rule expression returns data", async () => {
    const exprs = expressions();
    expect(exprs.length).toBeGreaterThan(20);
    // wait for scrapes and a rule evaluation
    for (let i = 0; i < 60 && (await query("ranet:exit_share:ratio5m").catch(() => [])).length === 0; i++) await new Promise((r) => setTimeout(r, 500));
    const empty: string[] = [];
    for (const e of exprs) if ((await query(e.expr)).length === 0) empty.push(`${e.where}: ${e.expr}`);
    expect(empty).toEqual([]);
    // the per-model rules keep the models apart
    for (const rule of ["ranet:flops_per_request:mean5m", "ranet:budget_target_flops:max", "ranet:queue_wait_estimate_seconds:max"]) {
      expect((await query(rule)).map((r) => r.metric.model).sort()).toEqual(["ranet-a", "ranet-b"]);
    }
  });

  it("every per-model series carries the model and version labels", async () => {
    const text = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    const perModel =
      /^(ranet_(exits_total|request_flops_\w+|budget_\w+_flops|exit_threshold|stage_\w+|queue_depth|dropped_total|queue_wait_estimate_seconds|model_info))\{([^}]*)\}/;
    const lines = text.split("\n").filter((l) => perModel.test(l));
    expect(lines.length).toBeGreaterThan(20);
    for (const l of lines) expect(l).toMatch(/[{,]model="ranet-[ab]",version="1"[,}]/);
  });

  it("promtool accepts the metrics and the rules", async () => {
    const text = await (await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`)).text();
    const metrics = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(metrics.stdout + metrics.stderr).toBe("");
    expect(metrics.status).toBe(0);
    const rules = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    expect(rules.status, rules.stdout + rules.stderr).toBe(0);
  });

  it("the metrics endpoint serves /metrics and nothing else", async () => {
    expect((await fetch(`http://127.0.0.1:${s.app.metricsPort}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${s.app.metricsPort}/metrics`, { method: "POST" })).status).toBe(404);
  });
});
