/**
 * Every alert of deploy/prometheus/rules.yaml with a scenario that makes it fire and one that
 * keeps it quiet, run by `promtool test rules` on synthetic series (simulated time, so the
 * rules' own `for` durations apply).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";

const PROMTOOL = "/usr/bin/promtool";
const RULES = path.resolve("deploy/prometheus/rules.yaml");

interface AlertRule {
  alert: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Scenario {
  alert: string;
  what: string;
  /** [series selector, promtool values] at a 1-minute interval. */
  series: [string, string][];
  evalTime: string;
  /** Labels of each expected alert (besides the rule's own); empty: the alert stays quiet. */
  fires: Record<string, string>[];
}

const at = 'namespace="ns", pod="p0"';
const ok = (per: number) => [`ranet_requests_total{${at}, method="Classify", code="OK"}`, `0+${per}x40`] as [string, string];

const SCENARIOS: Scenario[] = [
  {
    alert: "RanetBudgetOverspend",
    what: "mean 12 MMACs against a 10 MMAC target",
    series: [
      [`ranet_request_flops_sum{${at}}`, "0+1200000000x40"],
      [`ranet_request_flops_count{${at}}`, "0+100x40"],
      [`ranet_budget_target_flops{${at}, mode="controller"}`, "10000000x40"],
    ],
    evalTime: "25m",
    fires: [{ namespace: "ns" }],
  },
  {
    alert: "RanetBudgetOverspend",
    what: "mean on target",
    series: [
      [`ranet_request_flops_sum{${at}}`, "0+1000000000x40"],
      [`ranet_request_flops_count{${at}}`, "0+100x40"],
      [`ranet_budget_target_flops{${at}, mode="controller"}`, "10000000x40"],
    ],
    evalTime: "25m",
    fires: [],
  },
  {
    alert: "RanetBudgetOverspend",
    what: "fixed thresholds: no target series, whatever the spending",
    series: [
      [`ranet_request_flops_sum{${at}}`, "0+1500000000x40"],
      [`ranet_request_flops_count{${at}}`, "0+100x40"],
    ],
    evalTime: "25m",
    fires: [],
  },
  {
    alert: "RanetErrorRate",
    what: "5% INTERNAL",
    series: [ok(100), [`ranet_requests_total{${at}, method="Classify", code="INTERNAL"}`, "0+5x40"]],
    evalTime: "15m",
    fires: [{ namespace: "ns" }],
  },
  {
    alert: "RanetErrorRate",
    what: "a rollout: draining pods refuse with UNAVAILABLE",
    series: [ok(100), [`ranet_requests_total{${at}, method="Classify", code="UNAVAILABLE"}`, "0+30x40"]],
    evalTime: "15m",
    fires: [],
  },
  {
    alert: "RanetLatencySLO",
    what: "half of ModelInfer calls over 250 ms",
    series: [
      [`ranet_request_duration_seconds_bucket{${at}, method="ModelInfer", le="0.25"}`, "0+50x40"],
      [`ranet_request_duration_seconds_bucket{${at}, method="ModelInfer", le="0.5"}`, "0+100x40"],
      [`ranet_request_duration_seconds_bucket{${at}, method="ModelInfer", le="+Inf"}`, "0+100x40"],
    ],
    evalTime: "25m",
    fires: [{ namespace: "ns", method: "ModelInfer" }],
  },
  {
    alert: "RanetLatencySLO",
    what: "every ClassifyStream call within 250 ms",
    series: [
      [`ranet_request_duration_seconds_bucket{${at}, method="ClassifyStream", le="0.2"}`, "0+90x40"],
      [`ranet_request_duration_seconds_bucket{${at}, method="ClassifyStream", le="0.25"}`, "0+100x40"],
      [`ranet_request_duration_seconds_bucket{${at}, method="ClassifyStream", le="+Inf"}`, "0+100x40"],
    ],
    evalTime: "25m",
    fires: [],
  },
  {
    alert: "RanetSaturation",
    what: "estimate at 90% of a 100 ms maxQueueWaitMs",
    series: [
      [`ranet_queue_wait_estimate_seconds{${at}}`, "0.09x40"],
      [`ranet_config_max_queue_wait_seconds{${at}}`, "0.1x40"],
    ],
    evalTime: "15m",
    fires: [{ namespace: "ns" }],
  },
  {
    alert: "RanetSaturation",
    what: "one peak at the bound within 5 minutes (max_over_time, not a point sample)",
    series: [
      [`ranet_queue_wait_estimate_seconds{${at}}`, "0.01 0.01 0.01 0.12 0.01 0.01 0.01 0.01 0.01 0.12 0.01 0.01 0.01 0.01 0.12 0.01 0.01 0.01 0.01 0.12"],
      [`ranet_config_max_queue_wait_seconds{${at}}`, "0.1x40"],
    ],
    evalTime: "18m",
    fires: [{ namespace: "ns" }],
  },
  {
    alert: "RanetSaturation",
    what: "estimate at 20% of the bound",
    series: [
      [`ranet_queue_wait_estimate_seconds{${at}}`, "0.02x40"],
      [`ranet_config_max_queue_wait_seconds{${at}}`, "0.1x40"],
    ],
    evalTime: "15m",
    fires: [],
  },
  {
    alert: "RanetSaturation",
    what: "the wait bound is off (0)",
    series: [
      [`ranet_queue_wait_estimate_seconds{${at}}`, "2x40"],
      [`ranet_config_max_queue_wait_seconds{${at}}`, "0x40"],
    ],
    evalTime: "15m",
    fires: [],
  },
  {
    alert: "RanetShedding",
    what: "9% refused",
    series: [ok(100), [`ranet_requests_total{${at}, method="Classify", code="RESOURCE_EXHAUSTED"}`, "0+10x40"]],
    evalTime: "15m",
    fires: [{ namespace: "ns" }],
  },
  {
    alert: "RanetShedding",
    what: "1% refused",
    series: [ok(100), [`ranet_requests_total{${at}, method="Classify", code="RESOURCE_EXHAUSTED"}`, "0+1x40"]],
    evalTime: "15m",
    fires: [],
  },
  {
    alert: "RanetModelReloadFailed",
    what: "a failed reload 3 minutes ago",
    series: [[`ranet_model_reloads_total{${at}, result="failure"}`, "0 0 0 0 0 0 0 1 1 1 1"]],
    evalTime: "10m",
    fires: [{ namespace: "ns", pod: "p0", result: "failure" }],
  },
  {
    alert: "RanetModelReloadFailed",
    what: "no failed reload",
    series: [
      [`ranet_model_reloads_total{${at}, result="failure"}`, "0x40"],
      [`ranet_model_reloads_total{${at}, result="success"}`, "0 0 1 1 1 1"],
    ],
    evalTime: "10m",
    fires: [],
  },
  {
    alert: "RanetTargetDown",
    what: "a pod that cannot be scraped",
    series: [
      [`up{job="ranet-serving", ${at}}`, "0x40"],
      [`up{job="ranet-serving", namespace="ns", pod="p1"}`, "1x40"],
    ],
    evalTime: "10m",
    fires: [{ job: "ranet-serving", namespace: "ns", pod: "p0" }],
  },
  {
    alert: "RanetTargetDown",
    what: "no target discovered at all",
    series: [[`up{job="other"}`, "1x40"]],
    evalTime: "10m",
    fires: [{ job: "ranet-serving" }],
  },
  {
    alert: "RanetTargetDown",
    what: "every pod scraped",
    series: [[`up{job="ranet-serving", ${at}}`, "1x40"]],
    evalTime: "10m",
    fires: [],
  },
  {
    alert: "RanetGpuFallback",
    what: "a pod configured for CUDA serving on the CPU provider",
    series: [
      [`ranet_model_info{${at}, model="m", version="1", execution_provider="cpu"}`, "1x40"],
      [`ranet_config_info{${at}, preferred_execution_provider="cuda"}`, "1x40"],
    ],
    evalTime: "10m",
    fires: [{ namespace: "ns", pod: "p0", model: "m", version: "1", execution_provider: "cpu" }],
  },
  {
    alert: "RanetGpuFallback",
    what: "a CPU pod on the CPU provider",
    series: [
      [`ranet_model_info{${at}, model="m", version="1", execution_provider="cpu"}`, "1x40"],
      [`ranet_config_info{${at}, preferred_execution_provider="cpu"}`, "1x40"],
    ],
    evalTime: "10m",
    fires: [],
  },
];

/** An annotation as Prometheus renders it for an alert with these labels (the templates used here). */
const render = (text: string, labels: Record<string, string>) => text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? "");

describe.runIf(existsSync(PROMTOOL))("alerting rules", () => {
  const alerts: AlertRule[] = parse(readFileSync(RULES, "utf8")).groups.flatMap((g: { rules: (AlertRule | { record: string })[] }) =>
    g.rules.filter((r): r is AlertRule => "alert" in r),
  );

  it("every alert has a scenario that fires it and one that keeps it quiet", () => {
    for (const a of alerts) {
      const mine = SCENARIOS.filter((s) => s.alert === a.alert);
      expect(
        mine.some((s) => s.fires.length > 0),
        `${a.alert} fires somewhere`,
      ).toBe(true);
      expect(
        mine.some((s) => s.fires.length === 0),
        `${a.alert} stays quiet somewhere`,
      ).toBe(true);
    }
    expect(alerts.map((a) => a.alert).sort()).toEqual([...new Set(SCENARIOS.map((s) => s.alert))].sort());
  });

  it("promtool finds each alert firing or quiet as the scenario says", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "alerts-"));
    const tests = SCENARIOS.map((sc) => {
      const rule = alerts.find((a) => a.alert === sc.alert)!;
      return {
        name: `${sc.alert}: ${sc.what}`,
        interval: "1m",
        input_series: sc.series.map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: sc.evalTime,
            alertname: sc.alert,
            exp_alerts: sc.fires.map((labels) => {
              const all = { ...labels, ...rule.labels };
              return { exp_labels: all, exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, render(v, all)])) };
            }),
          },
        ],
      };
    });
    const file = path.join(dir, "rules.test.yaml");
    writeFileSync(file, stringify({ rule_files: [RULES], evaluation_interval: "1m", tests }));
    const r = spawnSync(PROMTOOL, ["test", "rules", file], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
