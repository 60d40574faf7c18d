import path from "node:path";
import type { Logger } from "pino";
import { carryTargetOver } from "./budget/carryTargetOver.js";
import { LoadGovernor } from "./budget/LoadGovernor.js";
import type { Config } from "./config/config.js";
import { type Clock, systemClock } from "./core/Clock.js";
import { usableCpus } from "./core/usableCpus.js";
import { loadManifest } from "./format/manifest.js";
import { BudgetService } from "./grpc/BudgetService.js";
import { CallEnvelope } from "./grpc/CallEnvelope.js";
import { metricsObserver } from "./grpc/CallObserver.js";
import { ClassifierService } from "./grpc/ClassifierService.js";
import { GrpcServer } from "./grpc/GrpcServer.js";
import { HealthService } from "./grpc/HealthService.js";
import { InferenceService } from "./grpc/InferenceService.js";
import { listenerOptions } from "./grpc/listenerOptions.js";
import { ModelAdminService } from "./grpc/ModelAdminService.js";
import { loadProtos } from "./grpc/protos.js";
import { Metrics } from "./metrics/Metrics.js";
import { loadServedModel, type ServedModel, type ServedModelDeps } from "./model/loadServedModel.js";
import { ModelHost, type ModelSource, type ReloadResult } from "./model/ModelHost.js";
import { ModelTelemetry } from "./model/ModelTelemetry.js";
import { modelReloader } from "./model/modelReloader.js";
import { SERVER_VERSION } from "./version.js";

export interface App {
  grpcPort: number;
  /** Port of the admin listener (BudgetAdmin, ModelAdmin); undefined when adminEnabled is false. */
  adminPort: number | undefined;
  metricsPort: number | undefined;
  /** The served model version (it changes on reload). */
  models: ModelSource<ServedModel>;
  metrics: Metrics;
  /**
   * Loads the model in `modelDir` (inside config.modelRoot; empty = config.modelDir) and serves
   * it; on failure the current version keeps serving and the error says why.
   */
  reload(modelDir?: string): Promise<ReloadResult<ServedModel>>;
  /**
   * Drain: NOT_SERVING, refuse new calls, finish admitted ones within the grace period, close
   * every connection. Resolves true when every admitted request was answered.
   */
  shutdown(): Promise<boolean>;
}

/** How often load-adaptive mode looks at the queue. */
const LOAD_GOVERNOR_INTERVAL_MS = 100;
/** Longest wait for calls still open after a drain (streams a client keeps open), within the grace period. */
const CLOSE_WAIT_MS = 1000;

/** Services of the public (inference) listener and of the admin listener, as health reports them. */
const PUBLIC_SERVICES = ["ranet.v1.Classifier", "inference.GRPCInferenceService"];
const ADMIN_SERVICES = ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin"];

/** Wires config -> metrics -> model (engine, budget, pipeline) -> gRPC listeners, and the drain (the composition root's body). */
export async function startApp(config: Config, log: Logger, clock: Clock = systemClock): Promise<App> {
  const logFor = (component: string) => log.child({ component });
  const modelRoot = path.resolve(config.modelRoot ?? path.dirname(path.resolve(config.modelDir)));
  const firstManifest = await loadManifest(path.resolve(config.modelDir));
  // histogram buckets at the exits' FLOPs: the first version's (they stay until a restart)
  const m = new Metrics(firstManifest.exits.map((e) => e.flops));
  m.budgetLoadFactor.set(1);
  m.configMaxQueueWait.set(config.maxQueueWaitMs / 1000);
  m.configInfo.set({ preferred_execution_provider: config.executionProviders[0] }, 1);
  const telemetry = new ModelTelemetry(m, clock);
  const cpus = usableCpus();
  log.info({ cpus: cpus.cpus, source: cpus.source }, "usable CPUs");
  const deps: ServedModelDeps = { config, clock, logFor, hooks: telemetry.hooks(), cpus };
  const first = await loadServedModel(firstManifest, deps);

  const governor = config.loadAdaptive
    ? new LoadGovernor({
        clock,
        intervalMs: LOAD_GOVERNOR_INTERVAL_MS,
        waitMs: () => host.current.pipeline.estimatedWaitMs(),
        maxWaitMs: config.maxQueueWaitMs,
        minFactor: config.loadAdaptiveMinFactor,
        apply: (f) => {
          host.current.budget.setLoadFactor(f);
          m.budgetLoadFactor.set(f);
        },
      })
    : undefined;
  const host = new ModelHost<ServedModel>(first, {
    load: async (dir) => loadServedModel(await loadManifest(dir), deps),
    log: logFor("model"),
    onSwap: (next, previous) => {
      carryTargetOver(previous.budget, next.budget, governor?.loadFactor);
      telemetry.publishModel(next);
    },
  });
  telemetry.publishModel(first);
  const reload = modelReloader({ host, modelRoot, modelDir: config.modelDir, metrics: m, log: logFor("model") });

  const grpcLog = logFor("grpc");
  const envelope = new CallEnvelope(grpcLog, metricsObserver(m));
  const protos = loadProtos();
  const health = new HealthService(PUBLIC_SERVICES);
  const adminHealth = new HealthService(ADMIN_SERVICES);
  const server = new GrpcServer(
    protos,
    {
      "ranet.v1.Classifier": new ClassifierService(host, envelope, config.maxStreamInflight).handlers(),
      "inference.GRPCInferenceService": new InferenceService(host, () => health.current === "SERVING", envelope, SERVER_VERSION, config).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    await listenerOptions(config.host, config.port, config, { cert: config.tlsCertFile, key: config.tlsKeyFile, clientCa: config.tlsClientCaFile }, m, grpcLog),
  );
  const admin = config.adminEnabled
    ? new GrpcServer(
        protos,
        {
          "ranet.v1.BudgetAdmin": new BudgetService(
            () => host.current.budget,
            () => host.current.classifier.exitFlops,
            envelope,
          ).handlers(),
          "ranet.v1.ModelAdmin": new ModelAdminService(() => host.current, reload, envelope).handlers(),
          "grpc.health.v1.Health": adminHealth.handlers(),
        },
        await listenerOptions(
          config.adminHost,
          config.adminPort,
          config,
          { cert: config.adminTlsCertFile, key: config.adminTlsKeyFile, clientCa: config.adminTlsClientCaFile },
          m,
          grpcLog,
        ),
      )
    : undefined;

  let grpcPort: number;
  let adminPort: number | undefined;
  let metricsServer: Awaited<ReturnType<Metrics["serve"]>> | undefined;
  try {
    grpcPort = await server.listen();
    adminPort = await admin?.listen();
    metricsServer = config.metricsEnabled ? await m.serve(config.metricsHost, config.metricsPort) : undefined;
  } catch (err) {
    await Promise.all([server.shutdown(0), admin?.shutdown(0)]);
    await host.dispose();
    throw err;
  }
  telemetry.start(host);
  governor?.start();
  health.set("SERVING");
  adminHealth.set("SERVING");
  log.info(
    {
      grpcPort,
      adminPort,
      tls: Boolean(config.tlsCertFile),
      mutualTls: Boolean(config.tlsClientCaFile),
      metricsPort: metricsServer?.port,
      model: first.manifest.name,
      version: first.manifest.version,
      exits: first.manifest.exits.length,
      modelRoot,
    },
    "serving",
  );

  let stopping: Promise<boolean> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const startedMs = clock.now();
      health.set("NOT_SERVING");
      adminHealth.set("NOT_SERVING");
      log.info({ inflight: host.current.pipeline.inflightCount, graceMs: config.shutdownGraceMs }, "draining");
      const drained = await Promise.race([host.drain().then(() => true), new Promise<boolean>((r) => clock.setTimer(() => r(false), config.shutdownGraceMs))]);
      if (!drained) log.warn({ inflight: host.current.pipeline.inflightCount }, "grace period over; cancelling remaining calls");
      health.close();
      adminHealth.close();
      // calls still open get what is left of the grace period (at most CLOSE_WAIT_MS); stalled
      // metrics connections are cut at once
      const leftMs = drained ? Math.max(0, Math.min(CLOSE_WAIT_MS, config.shutdownGraceMs - (clock.now() - startedMs))) : 0;
      await Promise.all([server.shutdown(leftMs), admin?.shutdown(leftMs), metricsServer?.close()]);
      telemetry.stop();
      governor?.stop();
      await host.dispose();
      log.info({ drained, ms: Math.round(clock.now() - startedMs) }, "stopped");
      return drained;
    })());
  return { grpcPort, adminPort, metricsPort: metricsServer?.port, models: host, metrics: m, reload, shutdown };
}
