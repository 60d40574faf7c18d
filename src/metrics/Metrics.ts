import http from "node:http";
import type { AddressInfo } from "node:net";
import client from "prom-client";

/** The service's own Prometheus registry and its instruments. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly exitsTaken: client.Counter<"exit">;
  readonly requestFlops: client.Histogram;
  readonly budgetTargetFlops: client.Gauge<"mode">;
  readonly budgetRealizedFlops: client.Gauge<"mode">;
  readonly budgetLoadFactor: client.Gauge;
  readonly exitThreshold: client.Gauge<"exit">;
  readonly stageBatchSize: client.Histogram<"stage">;
  readonly stageDuration: client.Histogram<"stage">;
  readonly queueDepth: client.Gauge<"stage">;
  readonly requests: client.Counter<"method" | "code">;
  readonly requestDuration: client.Histogram<"method">;
  readonly dropped: client.Counter<"reason">;
  readonly modelInfo: client.Gauge<"model" | "version" | "execution_provider">;
  readonly modelReloads: client.Counter<"result">;
  readonly queueWaitEstimate: client.Gauge;
  readonly undecodable: client.Counter<"method">;
  readonly configMaxQueueWait: client.Gauge;
  readonly configInfo: client.Gauge<"preferred_execution_provider">;

  constructor(exitFlops: readonly number[]) {
    const r = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these gauges as *_total, a suffix Prometheus reserves for
    // counters (promtool check metrics rejects them); the by-type gauges without the suffix
    // (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) remain.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(name);
    }
    this.exitsTaken = new client.Counter({ name: "ranet_exits_total", help: "Requests answered per exit (1-based)", labelNames: ["exit"], registers: r });
    this.requestFlops = new client.Histogram({
      name: "ranet_request_flops",
      help: "Multiply-adds spent per answered request",
      buckets: [...exitFlops],
      registers: r,
    });
    // labelled by mode so that neither exists where no budget applies (fixed thresholds)
    this.budgetTargetFlops = new client.Gauge({
      name: "ranet_budget_target_flops",
      help: "FLOPs target per request (multiply-adds); absent with fixed thresholds",
      labelNames: ["mode"],
      registers: r,
    });
    this.budgetRealizedFlops = new client.Gauge({
      name: "ranet_budget_realized_flops",
      help: "Running mean FLOPs per request seen by the budget (from the first answered request on; absent with fixed thresholds)",
      labelNames: ["mode"],
      registers: r,
    });
    this.budgetLoadFactor = new client.Gauge({
      name: "ranet_budget_load_factor",
      help: "Fraction of the FLOPs target in force (below 1 while load-adaptive mode lowers it)",
      registers: r,
    });
    this.exitThreshold = new client.Gauge({ name: "ranet_exit_threshold", help: "Current confidence threshold per exit", labelNames: ["exit"], registers: r });
    this.stageBatchSize = new client.Histogram({
      name: "ranet_stage_batch_size",
      help: "Samples per stage batch",
      labelNames: ["stage"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: r,
    });
    this.stageDuration = new client.Histogram({
      name: "ranet_stage_duration_seconds",
      help: "Execution time of one stage batch",
      labelNames: ["stage"],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.queueDepth = new client.Gauge({ name: "ranet_queue_depth", help: "Samples waiting per stage", labelNames: ["stage"], registers: r });
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
      help: "Admitted requests that left before an answer",
      labelNames: ["reason"],
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
      help: "Estimated queueing time of a new request (admission refuses above maxQueueWaitMs)",
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
    // export every known series from the start, so rates and ratios exist before the first event
    exitFlops.forEach((_, k) => {
      this.exitsTaken.inc({ exit: k + 1 }, 0);
    });
    for (const reason of ["cancelled", "deadline"]) this.dropped.inc({ reason }, 0);
    for (const result of ["success", "failure"]) this.modelReloads.inc({ result }, 0);
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
