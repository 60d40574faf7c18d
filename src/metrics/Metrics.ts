import http from "node:http";
import type { AddressInfo } from "node:net";
import client from "prom-client";

/** Labels of every per-model series: the model's name and the served version (bounded by the repository). */
export type ModelLabels = { model: string; version: string };

/**
 * A histogram family whose buckets differ per model (at each model's exit FLOPs): one prom-client
 * histogram per (model, version), exported as one family with model and version labels.
 */
export class PerModelHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly parts = new Map<string, { labels: ModelLabels; h: client.Histogram }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Starts the series of a model version with its buckets (again: keeps the existing). */
  add(labels: ModelLabels, buckets: readonly number[]): void {
    const key = `${labels.model}\u0000${labels.version}`;
    if (!this.parts.has(key))
      this.parts.set(key, { labels, h: new client.Histogram({ name: this.name, help: this.help, buckets: [...buckets], registers: [] }) });
  }

  remove(labels: ModelLabels): void {
    this.parts.delete(`${labels.model}\u0000${labels.version}`);
  }

  observe(labels: ModelLabels, value: number): void {
    this.parts.get(`${labels.model}\u0000${labels.version}`)?.h.observe(value);
  }

  async get(): Promise<client.MetricObjectWithValues<client.MetricValueWithName<string>>> {
    const values: client.MetricValueWithName<string>[] = [];
    for (const { labels, h } of this.parts.values()) {
      for (const v of (await h.get()).values) values.push({ ...v, labels: { ...labels, ...v.labels } });
    }
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: this.aggregator } as unknown as client.MetricObjectWithValues<
      client.MetricValueWithName<string>
    >;
  }

  reset(): void {
    for (const p of this.parts.values()) p.h.reset();
  }
}

/** The service's own Prometheus registry and its instruments. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly exitsTaken: client.Counter<"model" | "version" | "exit">;
  readonly requestFlops: PerModelHistogram;
  readonly tenantRequests: client.Counter<"model" | "version" | "tenant">;
  readonly tenantFlops: client.Counter<"model" | "version" | "tenant">;
  readonly budgetTargetFlops: client.Gauge<"model" | "version" | "mode">;
  readonly budgetRealizedFlops: client.Gauge<"model" | "version" | "mode">;
  readonly budgetLoadFactor: client.Gauge<"model">;
  readonly exitThreshold: client.Gauge<"model" | "version" | "exit">;
  readonly stageBatchSize: client.Histogram<"model" | "version" | "stage">;
  readonly stageDuration: client.Histogram<"model" | "version" | "stage">;
  readonly queueDepth: client.Gauge<"model" | "version" | "stage">;
  readonly requests: client.Counter<"method" | "code">;
  readonly requestDuration: client.Histogram<"method">;
  readonly dropped: client.Counter<"model" | "version" | "reason">;
  readonly modelInfo: client.Gauge<"model" | "version" | "execution_provider">;
  readonly modelReloads: client.Counter<"result">;
  readonly queueWaitEstimate: client.Gauge<"model" | "version">;
  readonly undecodable: client.Counter<"method">;
  readonly configMaxQueueWait: client.Gauge;
  readonly eventLoopUtilization: client.Gauge;
  readonly configInfo: client.Gauge<"preferred_execution_provider">;

  constructor() {
    const r = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these gauges as *_total, a suffix Prometheus reserves for
    // counters (promtool check metrics rejects them); the by-type gauges without the suffix
    // (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) remain.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(name);
    }
    this.exitsTaken = new client.Counter({
      name: "ranet_exits_total",
      help: "Requests answered per exit (1-based), per model version",
      labelNames: ["model", "version", "exit"],
      registers: r,
    });
    // buckets at each model's exit FLOPs
    this.requestFlops = new PerModelHistogram(
      "ranet_request_flops",
      "Multiply-adds spent per answered request, per model version (buckets at its exits' FLOPs)",
    );
    this.registry.registerMetric(this.requestFlops as unknown as client.Metric);
    // tenant: a configured tenant's name, or "other" (never a value taken raw from a request)
    this.tenantRequests = new client.Counter({
      name: "ranet_tenant_requests_total",
      help: "Answered requests per model version and tenant (a configured tenant, or other)",
      labelNames: ["model", "version", "tenant"],
      registers: r,
    });
    this.tenantFlops = new client.Counter({
      name: "ranet_tenant_flops_total",
      help: "Multiply-adds spent on answered requests per model version and tenant (a configured tenant, or other); over ranet_tenant_requests_total, a tenant's mean FLOPs per request",
      labelNames: ["model", "version", "tenant"],
      registers: r,
    });
    // labelled by mode so that neither exists where no budget applies (fixed thresholds)
    this.budgetTargetFlops = new client.Gauge({
      name: "ranet_budget_target_flops",
      help: "FLOPs target per request (multiply-adds), per model version; absent with fixed thresholds",
      labelNames: ["model", "version", "mode"],
      registers: r,
    });
    this.budgetRealizedFlops = new client.Gauge({
      name: "ranet_budget_realized_flops",
      help: "Moving average of the FLOPs per request the budget saw (about the last 1,000 requests), per model version; absent with fixed thresholds",
      labelNames: ["model", "version", "mode"],
      registers: r,
    });
    this.budgetLoadFactor = new client.Gauge({
      name: "ranet_budget_load_factor",
      help: "Fraction of the FLOPs target in force, per model (below 1 while load-adaptive mode lowers it)",
      labelNames: ["model"],
      registers: r,
    });
    this.exitThreshold = new client.Gauge({
      name: "ranet_exit_threshold",
      help: "Current confidence threshold per exit, per model version",
      labelNames: ["model", "version", "exit"],
      registers: r,
    });
    this.stageBatchSize = new client.Histogram({
      name: "ranet_stage_batch_size",
      help: "Samples per stage batch, per model version",
      labelNames: ["model", "version", "stage"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: r,
    });
    this.stageDuration = new client.Histogram({
      name: "ranet_stage_duration_seconds",
      help: "Execution time of one stage batch, per model version",
      labelNames: ["model", "version", "stage"],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.queueDepth = new client.Gauge({
      name: "ranet_queue_depth",
      help: "Samples waiting per stage, per model version",
      labelNames: ["model", "version", "stage"],
      registers: r,
    });
    this.requests = new client.Counter({
      name: "ranet_requests_total",
      help: "Answered calls by method and gRPC code (messages over maxMessageBytes included: RESOURCE_EXHAUSTED)",
      labelNames: ["method", "code"],
      registers: r,
    });
    this.requestDuration = new client.Histogram({
      name: "ranet_request_duration_seconds",
      help: "Latency of the calls the server worked on, by method (refusals at admission, RESOURCE_EXHAUSTED and UNAVAILABLE, are left out)",
      labelNames: ["method"],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5],
      registers: r,
    });
    this.dropped = new client.Counter({
      name: "ranet_dropped_total",
      help: "Admitted requests that left before an answer, per model version",
      labelNames: ["model", "version", "reason"],
      registers: r,
    });
    this.modelInfo = new client.Gauge({ name: "ranet_model_info", help: "Served model", labelNames: ["model", "version", "execution_provider"], registers: r });
    this.modelReloads = new client.Counter({
      name: "ranet_model_reloads_total",
      help: "Model reloads by result (success, failure)",
      labelNames: ["result"],
      registers: r,
    });
    this.queueWaitEstimate = new client.Gauge({
      name: "ranet_queue_wait_estimate_seconds",
      help: "Estimated queueing time of a new request, per model version (admission refuses above maxQueueWaitMs)",
      labelNames: ["model", "version"],
      registers: r,
    });
    this.eventLoopUtilization = new client.Gauge({
      name: "ranet_event_loop_utilization",
      help: "Busy share of the main thread's event loop over its last 100 ms (it reads, admits and answers every request; priorityYieldUtilization compares against it)",
      registers: r,
    });
    this.undecodable = new client.Counter({
      name: "ranet_undecodable_requests_total",
      help: "Request messages that could not be decoded (answered INVALID_ARGUMENT), by method",
      labelNames: ["method"],
      registers: r,
    });
    this.configMaxQueueWait = new client.Gauge({
      name: "ranet_config_max_queue_wait_seconds",
      help: "Configured maxQueueWaitMs: admission refuses requests whose estimated wait exceeds it (0 = off)",
      registers: r,
    });
    this.configInfo = new client.Gauge({
      name: "ranet_config_info",
      help: "Server settings alerts compare against: the execution provider configured first",
      labelNames: ["preferred_execution_provider"],
      registers: r,
    });
    for (const result of ["success", "failure"]) this.modelReloads.inc({ result }, 0);
  }

  /**
   * A model version starts serving: its series exist from the start (rates and ratios exist
   * before the first event), its FLOPs histogram gets buckets at its exits.
   */
  addModel(labels: ModelLabels, exitFlops: readonly number[]): void {
    exitFlops.forEach((_, k) => {
      this.exitsTaken.inc({ ...labels, exit: k + 1 }, 0);
    });
    for (const reason of ["cancelled", "deadline", "queue_timeout"]) this.dropped.inc({ ...labels, reason }, 0);
    this.requestFlops.add(labels, exitFlops);
  }

  /** A model version stopped serving: its series go (the repository bounds the label values). */
  removeModel(labels: ModelLabels): void {
    const match = (l: Partial<Record<string, string | number>>) => l.model === labels.model && l.version === labels.version;
    for (const g of [
      this.exitsTaken,
      this.dropped,
      this.budgetTargetFlops,
      this.budgetRealizedFlops,
      this.exitThreshold,
      this.stageBatchSize,
      this.stageDuration,
      this.queueDepth,
      this.queueWaitEstimate,
      this.modelInfo,
    ] as const) {
      removeWhere(g as unknown as LabelledMetric, match);
    }
    this.requestFlops.remove(labels);
  }

  /** Serves GET /metrics (and nothing else) on host:port; resolves with the bound port. close() cuts open connections. */
  async serve(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
        this.registry.metrics().then(
          (body) => {
            res.writeHead(200, { "Content-Type": this.registry.contentType });
            res.end(body);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
      } else {
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end("not found\n");
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    return {
      port: (server.address() as AddressInfo).port,
      // closeAllConnections: a scraper that stalls mid-request must not keep the process alive
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
}

interface LabelledMetric {
  get(): Promise<{ values: { labels: Partial<Record<string, string | number>> }[] }>;
  remove(labels: Partial<Record<string, string | number>>): void;
}

/** Removes every series of `metric` whose labels match (prom-client removes by exact label set). */
function removeWhere(metric: LabelledMetric, match: (l: Partial<Record<string, string | number>>) => boolean): void {
  // hashMap holds each label set once (histograms list buckets per set in get())
  const hash = (metric as unknown as { hashMap?: Record<string, { labels: Partial<Record<string, string | number>> }> }).hashMap;
  for (const entry of Object.values(hash ?? {})) if (match(entry.labels)) metric.remove(entry.labels);
}
