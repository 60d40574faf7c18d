import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { BudgetManager } from "./budget/BudgetManager.js";
import { createBudget } from "./budget/createBudget.js";
import type { Config } from "./config/config.js";
import { loadManifest } from "./engine/manifest.js";
import { OrtEngine } from "./engine/OrtEngine.js";
import { BudgetService } from "./grpc/BudgetService.js";
import { ClassifierService } from "./grpc/ClassifierService.js";
import { metricsObserver } from "./grpc/CallObserver.js";
import { GrpcServer } from "./grpc/GrpcServer.js";
import { HealthService } from "./grpc/HealthService.js";
import { InferenceService } from "./grpc/InferenceService.js";
import { loadProtos } from "./grpc/protos.js";
import { Metrics } from "./metrics/Metrics.js";
import { Classifier } from "./pipeline/Classifier.js";
import { systemClock, type Clock } from "./pipeline/Clock.js";
import { Pipeline } from "./pipeline/Pipeline.js";
import { SERVER_VERSION } from "./version.js";

export interface App {
  grpcPort: number;
  metricsPort: number | undefined;
  classifier: Classifier;
  engine: OrtEngine;
  metrics: Metrics;
  budget: BudgetManager;
  /** Drain: NOT_SERVING, refuse new calls, finish admitted ones within the grace period. */
  shutdown(): Promise<void>;
}

const SERVICES = ["ranet.v1.Classifier", "ranet.v1.BudgetAdmin", "inference.GRPCInferenceService"];

/** Wires config -> metrics -> engine -> pipeline -> budget -> gRPC server (the composition root's body). */
export async function startApp(config: Config, log: Logger, clock: Clock = systemClock): Promise<App> {
  const manifest = await loadManifest(config.modelDir);
  const metrics = new Metrics(manifest.exits.map((e) => e.flops));
  const health = new HealthService(SERVICES);
  const engine = await OrtEngine.create(
    manifest,
    { executionProviders: config.executionProviders, intraOpThreads: config.intraOpThreads, interOpThreads: config.interOpThreads },
    log.child({ component: "engine" }),
  );
  metrics.modelInfo.set({ model: manifest.name, version: manifest.version, execution_provider: engine.provider }, 1);
  const { budget, scorer } = await createBudget(manifest, config, log.child({ component: "budget" }));
  const publishBudget = () => {
    const st = budget.status();
    st.thresholds.forEach((t, k) => Number.isFinite(t) && metrics.exitThreshold.set({ exit: k + 1 }, t));
    metrics.budgetTargetFlops.set(st.targetFlops);
    metrics.budgetRealizedFlops.set(st.realizedFlops);
  };
  publishBudget();
  const budgetTimer = setInterval(publishBudget, 1000).unref();
  const pipeline = new Pipeline(
    {
      inputName: manifest.input.name,
      inputShape: manifest.input.shape,
      stages: manifest.stages,
      exitFlops: manifest.exits.map((e) => e.flops),
      classes: manifest.labels.length,
    },
    engine,
    budget,
    {
      maxBatchSize: config.maxBatchSize,
      maxQueueDelayMs: config.maxQueueDelayMs,
      maxQueueSize: config.maxQueueSize,
      clock,
      log: log.child({ component: "pipeline" }),
      scorer,
      hooks: {
        batchRun: (stage, size, seconds) => {
          metrics.stageBatchSize.observe({ stage: stage + 1 }, size);
          metrics.stageDuration.observe({ stage: stage + 1 }, seconds);
        },
        queueDepth: (stage, depth) => metrics.queueDepth.set({ stage: stage + 1 }, depth),
        exitTaken: (exit, flops) => {
          metrics.exitsTaken.inc({ exit: exit + 1 });
          metrics.requestFlops.observe(flops);
        },
        dropped: (reason) => metrics.dropped.inc({ reason }),
      },
    },
  );
  const classifier = new Classifier(manifest, pipeline, budget, clock, config.maxImagePixels);
  const observe = metricsObserver(metrics);
  const grpcLog = log.child({ component: "grpc" });
  const server = new GrpcServer(
    loadProtos(),
    {
      "ranet.v1.Classifier": new ClassifierService(classifier, budget, observe, grpcLog).handlers(),
      "ranet.v1.BudgetAdmin": new BudgetService(budget).handlers(),
      "inference.GRPCInferenceService": new InferenceService(classifier, () => health.current === "SERVING", observe, grpcLog, SERVER_VERSION).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    {
      host: config.host,
      port: config.port,
      maxMessageBytes: config.maxMessageBytes,
      keepaliveTimeMs: config.keepaliveTimeMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      tls: config.tlsCertFile
        ? {
            cert: await readFile(config.tlsCertFile),
            key: await readFile(config.tlsKeyFile!),
            clientCa: config.tlsClientCaFile ? await readFile(config.tlsClientCaFile) : undefined,
          }
        : undefined,
    },
  );
  const grpcPort = await server.listen();
  const metricsServer = config.metricsEnabled ? await metrics.serve(config.metricsHost, config.metricsPort) : undefined;
  if (config.warmup) {
    const t0 = Date.now();
    await engine.warmUp([1, config.maxBatchSize]);
    log.info({ ms: Date.now() - t0 }, "warm-up done");
  }
  health.set("SERVING");
  log.info({ grpcPort, tls: Boolean(config.tlsCertFile), mutualTls: Boolean(config.tlsClientCaFile), metricsPort: metricsServer?.port, model: manifest.name, version: manifest.version, exits: manifest.exits.length }, "serving");

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      health.set("NOT_SERVING");
      log.info({ inflight: pipeline.inflightCount, graceMs: config.shutdownGraceMs }, "draining");
      const drained = await Promise.race([
        pipeline.drain().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownGraceMs).unref()),
      ]);
      if (!drained) log.warn({ inflight: pipeline.inflightCount }, "grace period over; cancelling remaining calls");
      health.close();
      await server.shutdown(drained ? 1000 : 0);
      clearInterval(budgetTimer);
      await metricsServer?.close();
      await engine.dispose();
      log.info("stopped");
    })());
  return { grpcPort, metricsPort: metricsServer?.port, classifier, engine, metrics, budget, shutdown };
}
