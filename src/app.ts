import path from "node:path";
import type { Logger } from "pino";
import { LoadGovernor } from "./budget/LoadGovernor.js";
import type { Config } from "./config/config.js";
import { type Clock, systemClock } from "./core/Clock.js";
import { EventLoopLoad } from "./core/EventLoopLoad.js";
import { usableCpus } from "./core/usableCpus.js";
import { EnginePool } from "./engine/EnginePool.js";
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
import type { ReloadResult } from "./model/ModelHost.js";
import { ModelRepository } from "./model/ModelRepository.js";
import { ModelTelemetry } from "./model/ModelTelemetry.js";
import { modelReloader } from "./model/modelReloader.js";
import { Scheduler } from "./scheduler/Scheduler.js";
import { SchedulerLoop } from "./scheduler/SchedulerLoop.js";
import { SERVER_VERSION } from "./version.js";

export interface App {
  grpcPort: number;
  /** Port of the admin listener (BudgetAdmin, ModelAdmin); undefined when adminEnabled is false. */
  adminPort: number | undefined;
  metricsPort: number | undefined;
  /** The served models and their versions (`models.current`: the default model's newest version). */
  models: ModelRepository;
  metrics: Metrics;
  /**
   * Reloads a model (empty = the default): from `modelDir` (inside config.modelRoot) when given,
   * else from its folder; on failure what served keeps serving and the error says why.
   */
  reload(model?: string, modelDir?: string): Promise<ReloadResult<ServedModel>>;
  /** SIGHUP: reloads a single model folder, or rescans every model of the repository. */
  rescan(): Promise<void>;
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
const ADMIN_SERVICES = ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin", "inference.GRPCInferenceService"];

/** Load-adaptive mode scales a served version's own budget and every tenant budget of it alike. */
function setLoadFactor(served: ServedModel, factor: number): void {
  for (const b of [served.budget, ...served.tenantBudgets.values()]) b.setLoadFactor(factor);
}

/** Wires config -> metrics -> model (engine, budget, pipeline) -> gRPC listeners, and the drain (the composition root's body). */
export async function startApp(config: Config, log: Logger, clock: Clock = systemClock): Promise<App> {
  const logFor = (component: string) => log.child({ component });
  const single = config.modelDir ? path.resolve(config.modelDir) : undefined;
  const repositoryRoot = path.resolve(config.modelRepository);
  const modelRoot = path.resolve(config.modelRoot ?? (single ? path.dirname(single) : repositoryRoot));
  const m = new Metrics();
  m.configMaxQueueWait.set(config.maxQueueWaitMs / 1000);
  m.configInfo.set({ preferred_execution_provider: config.executionProviders[0] }, 1);
  const telemetry = new ModelTelemetry(m, clock);
  const cpus = usableCpus();
  log.info({ cpus: cpus.cpus, source: cpus.source }, "usable CPUs");
  // one set of engine worker threads for every model's sessions
  const pool = await EnginePool.create(
    {
      executionProviders: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      interOpThreads: config.interOpThreads,
      workers: config.engineWorkers,
      cpus,
    },
    logFor("engine"),
  );
  // one scheduler of those workers' slots for every model's stage queues
  const scheduler = new SchedulerLoop(new Scheduler({ workers: pool.workerCount, workerAlive: (i) => pool.alive(i) }), clock);
  pool.onWorkerBack = () => scheduler.kick();
  // the main thread's load, for the models whose lower priority levels yield to higher ones (priorityYieldUtilization)
  const eventLoop = new EventLoopLoad(clock);
  eventLoop.onWindow = (utilization) => m.eventLoopUtilization.set(utilization);
  const deps: ServedModelDeps = { config, clock, logFor, hooksFor: (labels) => telemetry.hooksFor(labels), cpus, pool, scheduler, eventLoop };
  // load-adaptive mode: one governor per model, steering by its newest version's queue
  const governors = new Map<string, LoadGovernor>();
  const repo = new ModelRepository({
    root: repositoryRoot,
    single,
    reloadRoot: modelRoot,
    mode: config.modelControlMode,
    loadAtStart: config.loadModel,
    defaultModel: config.defaultModel,
    strict: config.strictModelStart,
    config,
    load: (manifest, settings) => loadServedModel(manifest, deps, settings),
    onServe: (served, serving) => {
      const g = governors.get(served.manifest.name);
      if (serving && g) setLoadFactor(served, g.loadFactor);
      telemetry.publishModel(served, serving);
    },
    onModel: (name, up, settings, current) => {
      governors.get(name)?.stop();
      governors.delete(name);
      m.budgetLoadFactor.remove({ model: name });
      if (!up) return;
      m.budgetLoadFactor.set({ model: name }, 1);
      if (!settings.loadAdaptive) return;
      const g = new LoadGovernor({
        clock,
        intervalMs: LOAD_GOVERNOR_INTERVAL_MS,
        waitMs: () => current()?.pipeline.estimatedWaitMs() ?? 0,
        maxWaitMs: settings.maxQueueWaitMs,
        minFactor: settings.loadAdaptiveMinFactor,
        apply: (f) => {
          const c = current();
          if (c) setLoadFactor(c, f);
          m.budgetLoadFactor.set({ model: name }, f);
        },
      });
      governors.set(name, g);
      if (started) g.start();
    },
    log: logFor("model"),
  });
  let started = false;
  try {
    await repo.start();
  } catch (err) {
    await pool.dispose();
    throw err;
  }
  const reload = modelReloader({ repo, metrics: m, log: logFor("model") });

  const grpcLog = logFor("grpc");
  const envelope = new CallEnvelope(grpcLog, metricsObserver(m), config.tenantHeader);
  const protos = loadProtos();
  const health = new HealthService(PUBLIC_SERVICES, (name) => repo.servedNames().includes(name));
  const adminHealth = new HealthService(ADMIN_SERVICES);
  const server = new GrpcServer(
    protos,
    {
      "ranet.v1.Classifier": new ClassifierService(repo, envelope, config.maxStreamInflight).handlers(),
      "inference.GRPCInferenceService": new InferenceService(repo, () => health.current === "SERVING", envelope, SERVER_VERSION).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    await listenerOptions(config.host, config.port, config, { cert: config.tlsCertFile, key: config.tlsKeyFile, clientCa: config.tlsClientCaFile }, m, grpcLog),
  );
  const admin = config.adminEnabled
    ? new GrpcServer(
        protos,
        {
          "ranet.v1.BudgetAdmin": new BudgetService(
            repo,
            envelope,
            config.tenants.map((t) => t.name),
          ).handlers(),
          "ranet.v1.ModelAdmin": new ModelAdminService(repo, reload, envelope).handlers(),
          "inference.GRPCInferenceService": new InferenceService(repo, () => adminHealth.current === "SERVING", envelope, SERVER_VERSION).repositoryHandlers(),
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
    await repo.dispose();
    await pool.dispose();
    throw err;
  }
  telemetry.start(() => repo.served());
  started = true;
  for (const g of governors.values()) g.start();
  health.set("SERVING");
  adminHealth.set("SERVING");
  log.info(
    {
      grpcPort,
      adminPort,
      tls: Boolean(config.tlsCertFile),
      mutualTls: Boolean(config.tlsClientCaFile),
      metricsPort: metricsServer?.port,
      models: repo.index().map((e) => `${e.name}/${e.version}:${e.state}`),
      defaultModel: repo.defaultName,
      repository: single ?? repositoryRoot,
    },
    "serving",
  );

  let stopping: Promise<boolean> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const startedMs = clock.now();
      health.set("NOT_SERVING");
      adminHealth.set("NOT_SERVING");
      const inflight = () => repo.served().reduce((n, s) => n + s.pipeline.inflightCount, 0);
      log.info({ inflight: inflight(), graceMs: config.shutdownGraceMs }, "draining");
      const drained = await Promise.race([repo.drain().then(() => true), new Promise<boolean>((r) => clock.setTimer(() => r(false), config.shutdownGraceMs))]);
      if (!drained) log.warn({ inflight: inflight() }, "grace period over; cancelling remaining calls");
      health.close();
      adminHealth.close();
      // calls still open get what is left of the grace period (at most CLOSE_WAIT_MS); stalled
      // metrics connections are cut at once
      const leftMs = drained ? Math.max(0, Math.min(CLOSE_WAIT_MS, config.shutdownGraceMs - (clock.now() - startedMs))) : 0;
      await Promise.all([server.shutdown(leftMs), admin?.shutdown(leftMs), metricsServer?.close()]);
      telemetry.stop();
      eventLoop.stop();
      for (const g of governors.values()) g.stop();
      await repo.dispose();
      await pool.dispose();
      log.info({ drained, ms: Math.round(clock.now() - startedMs) }, "stopped");
      return drained;
    })());
  const rescan = async () => {
    const failures = await repo.rescan();
    m.modelReloads.inc({ result: failures.length ? "failure" : "success" });
    for (const f of failures) log.error(f, "model reload failed; what served keeps serving");
  };
  return { grpcPort, adminPort, metricsPort: metricsServer?.port, models: repo, metrics: m, reload, rescan, shutdown };
}
