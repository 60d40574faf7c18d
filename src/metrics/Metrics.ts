import client from "prom-client";
import { counterCells, gaugeCells } from "./MetricCells.js";
import { MetricFactory } from "./MetricFactory.js";
import { type ModelLabels, PerModelHistogram, versionKey } from "./PerModelHistogram.js";
import { serveMetrics } from "./serveMetrics.js";

export { type ModelLabels, PerModelHistogram };

/** prom-client's default gauges named *_total, a suffix Prometheus reserves for counters (promtool check metrics rejects them); the by-type gauges without the suffix remain. */
const MISNAMED_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * The service's own Prometheus registry and its instruments. Series labelled by model and
 * version are per served model version: addModel starts them, removeModel removes every one.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly make = new MetricFactory(this.registry);

  // ---- per model version: answers, FLOPs, tenants
  readonly exitsTaken = this.make.counter(
    "ranet_exits_total",
    "Requests answered per exit (1-based), per model version",
    ["model", "version", "exit"],
    (): void => this.exitCells.flush(),
  );
  /** Buckets at each model's exit FLOPs. */
  readonly requestFlops = new PerModelHistogram(
    "ranet_request_flops",
    "Multiply-adds spent per answered request, per model version (buckets at its exits' FLOPs)",
  );
  // tenant: a configured tenant's name, or "other" (never a value taken raw from a request)
  readonly tenantRequests = this.make.counter(
    "ranet_tenant_requests_total",
    "Answered requests per model version and tenant (a configured tenant, or other)",
    ["model", "version", "tenant"],
    (): void => this.tenantRequestCells.flush(),
  );
  readonly tenantFlops = this.make.counter(
    "ranet_tenant_flops_total",
    "Multiply-adds spent on answered requests per model version and tenant (a configured tenant, or other); over ranet_tenant_requests_total, a tenant's mean FLOPs per request",
    ["model", "version", "tenant"],
    (): void => this.tenantFlopCells.flush(),
  );
  /** What each answer adds to the counters above, as plain numbers (MetricCells: counted into them when they are read). */
  readonly exitCells = counterCells(this.exitsTaken);
  readonly tenantRequestCells = counterCells(this.tenantRequests);
  readonly tenantFlopCells = counterCells(this.tenantFlops);
  readonly dropped = this.make.counter("ranet_dropped_total", "Admitted requests that left before an answer, per model version", [
    "model",
    "version",
    "reason",
  ]);
  readonly modelInfo = this.make.gauge("ranet_model_info", "Served model", ["model", "version", "execution_provider"]);

  // ---- per model version: the budget (labelled by mode so that neither exists where no budget applies: fixed thresholds)
  readonly budgetTargetFlops = this.make.gauge(
    "ranet_budget_target_flops",
    "FLOPs target per request (multiply-adds), per model version; absent with fixed thresholds",
    ["model", "version", "mode"],
  );
  readonly budgetRealizedFlops = this.make.gauge(
    "ranet_budget_realized_flops",
    "Moving average of the FLOPs per request the budget saw (about the last 1,000 requests), per model version; absent with fixed thresholds",
    ["model", "version", "mode"],
  );
  readonly exitThreshold = this.make.gauge("ranet_exit_threshold", "Current confidence threshold per exit, per model version", ["model", "version", "exit"]);
  /** Per model (every version alike): LoadGovernors sets and removes it. */
  readonly budgetLoadFactor = this.make.gauge(
    "ranet_budget_load_factor",
    "Fraction of the FLOPs target in force, per model (below 1 while load-adaptive mode lowers it)",
    ["model"],
  );

  // ---- per model version: stages and queues
  readonly stageBatchSize = this.make.histogram(
    "ranet_stage_batch_size",
    "Samples per stage batch, per model version",
    ["model", "version", "stage"],
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );
  readonly stageDuration = this.make.histogram(
    "ranet_stage_duration_seconds",
    "Execution time of one stage batch, per model version",
    ["model", "version", "stage"],
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly queueDepth = this.make.gauge("ranet_queue_depth", "Samples waiting per stage, per model version", ["model", "version", "stage"], (): void =>
    this.queueDepthCells.flush(),
  );
  /** What each request and batch sets ranet_queue_depth to (MetricCells: set in it when it is read). */
  readonly queueDepthCells = gaugeCells(this.queueDepth);
  readonly queueWaitEstimate = this.make.gauge(
    "ranet_queue_wait_estimate_seconds",
    "Estimated queueing time of a new request, per model version (admission refuses above maxQueueWaitMs)",
    ["model", "version"],
  );

  // ---- calls
  readonly requests = this.make.counter(
    "ranet_requests_total",
    "Answered calls by method, gRPC code (a REST call: the code its HTTP status stands for) and protocol (grpc, rest); messages over maxMessageBytes included: RESOURCE_EXHAUSTED",
    ["method", "code", "protocol"],
    (): void => this.requestCells.flush(),
  );
  /** What each call adds to ranet_requests_total (MetricCells). */
  readonly requestCells = counterCells(this.requests);
  readonly requestDuration = this.make.histogram(
    "ranet_request_duration_seconds",
    "Latency of the calls the server worked on, by method and protocol (grpc, rest); refusals at admission, RESOURCE_EXHAUSTED and UNAVAILABLE, are left out",
    ["method", "protocol"],
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5],
  );
  readonly undecodable = this.make.counter(
    "ranet_undecodable_requests_total",
    "Request messages that could not be decoded (answered INVALID_ARGUMENT), by method",
    ["method"],
  );

  // ---- the server
  readonly modelReloads = this.make.counter("ranet_model_reloads_total", "Model reloads by result (success, failure)", ["result"]);
  readonly eventLoopUtilization = this.make.gauge(
    "ranet_event_loop_utilization",
    "Busy share of the main thread's event loop over its last 100 ms (it reads, admits and answers every request; priorityYieldUtilization compares against it)",
  );
  readonly configMaxQueueWait = this.make.gauge(
    "ranet_config_max_queue_wait_seconds",
    "Configured maxQueueWaitMs: admission refuses requests whose estimated wait exceeds it (0 = off)",
  );
  readonly configInfo = this.make.gauge("ranet_config_info", "Server settings alerts compare against: the execution provider configured first", [
    "preferred_execution_provider",
  ]);

  /** The model versions between addModel and removeModel. */
  private readonly served = new Set<string>();

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    this.registry.registerMetric(this.requestFlops as unknown as client.Metric);
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
    this.served.add(versionKey(labels));
  }

  /** A model version stopped serving: every series labelled with it goes (the repository bounds the label values). */
  async removeModel(labels: ModelLabels): Promise<void> {
    const key = versionKey(labels);
    this.served.delete(key);
    this.requestFlops.remove(labels);
    await this.make.removeVersion(labels.model, labels.version, () => this.served.has(key));
  }

  /** Serves GET /metrics (and nothing else) on host:port; resolves with the bound port. close() cuts open connections. */
  serve(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    return serveMetrics(this.registry, host, port);
  }
}
