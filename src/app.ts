import path from "node:path";
import type { Logger } from "pino";
import { drain } from "./app/drain.js";
import { startEngineRoom } from "./app/engineRoom.js";
import { LoadGovernors } from "./app/LoadGovernors.js";
import { buildListeners } from "./app/listeners.js";
import type { Config } from "./config/config.js";
import { type Clock, systemClock } from "./core/Clock.js";
import { Metrics } from "./metrics/Metrics.js";
import { loadServedModel, type ServedModel, type ServedModelDeps } from "./model/loadServedModel.js";
import type { ReloadResult } from "./model/ModelHost.js";
import { ModelRepository } from "./model/ModelRepository.js";
import { ModelTelemetry } from "./model/ModelTelemetry.js";
import { modelReloader } from "./model/modelReloader.js";
import { readRepositorySettings } from "./model/repositoryFolders.js";

export interface App {
  grpcPort: number;
  /** Port of the admin listener (BudgetAdmin, ModelAdmin); undefined when adminEnabled is false. */
  adminPort: number | undefined;
  metricsPort: number | undefined;
  /** Ports of the REST Open Inference Protocol, public and admin; undefined when httpEnabled (or, for the admin one, adminEnabled) is false. */
  httpPort: number | undefined;
  adminHttpPort: number | undefined;
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

/** Wires config -> metrics -> engine room -> model repository -> gRPC and REST listeners, and the drain (the composition root's body). */
export async function startApp(config: Config, log: Logger, clock: Clock = systemClock): Promise<App> {
  const logFor = (component: string) => log.child({ component });
  const single = config.modelDir ? path.resolve(config.modelDir) : undefined;
  const repositoryRoot = path.resolve(config.modelRepository);
  const modelRoot = path.resolve(config.modelRoot ?? (single ? path.dirname(single) : repositoryRoot));
  // the default model: the setting, else the repository's own (repository.yaml), else the only or first by name
  const defaultModel = config.defaultModel ?? (single ? undefined : readRepositorySettings(repositoryRoot).defaultModel);
  const m = new Metrics();
  m.configMaxQueueWait.set(config.maxQueueWaitMs / 1000);
  m.configInfo.set({ preferred_execution_provider: config.executionProviders[0] }, 1);
  const telemetry = new ModelTelemetry(m, clock);
  const engine = await startEngineRoom(config, clock, m, logFor("engine"));
  const { cpus, pool, scheduler, eventLoop } = engine;
  const deps: ServedModelDeps = { config, clock, logFor, hooksFor: (labels) => telemetry.hooksFor(labels), cpus, pool, scheduler, eventLoop };
  const governors = new LoadGovernors(clock, m);
  const repo = new ModelRepository({
    root: repositoryRoot,
    single,
    reloadRoot: modelRoot,
    mode: config.modelControlMode,
    loadAtStart: config.loadModel,
    defaultModel,
    strict: config.strictModelStart,
    config,
    load: (manifest, settings) => loadServedModel(manifest, deps, settings),
    onServe: (served, serving) => {
      governors.onServe(served, serving);
      telemetry.publishModel(served, serving);
    },
    onModel: (name, up, settings, current) => governors.onModel(name, up, settings, current),
    log: logFor("model"),
  });
  try {
    await repo.start();
  } catch (err) {
    await engine.dispose();
    throw err;
  }
  const reload = modelReloader({ repo, metrics: m, log: logFor("model") });
  let listeners: Awaited<ReturnType<typeof buildListeners>>;
  try {
    listeners = await buildListeners(config, repo, reload, m, logFor("grpc")); // reads the TLS files
  } catch (err) {
    await repo.dispose();
    await engine.dispose();
    throw err;
  }
  const all = [listeners.public, listeners.admin, listeners.rest, listeners.adminRest].filter((l) => l !== undefined);

  let grpcPort: number;
  let adminPort: number | undefined;
  let httpPort: number | undefined;
  let adminHttpPort: number | undefined;
  let metricsServer: Awaited<ReturnType<Metrics["serve"]>> | undefined;
  try {
    grpcPort = await listeners.public.server.listen();
    adminPort = await listeners.admin?.server.listen();
    httpPort = await listeners.rest?.server.listen();
    adminHttpPort = await listeners.adminRest?.server.listen();
    metricsServer = config.metricsEnabled ? await m.serve(config.metricsHost, config.metricsPort) : undefined;
  } catch (err) {
    await Promise.all(all.map((l) => l.server.shutdown(0)));
    await repo.dispose();
    await engine.dispose();
    throw err;
  }
  telemetry.start(() => repo.served());
  governors.start();
  for (const l of all) l.health.set("SERVING");
  if (repo.defaultName && !repo.servedNames().includes(repo.defaultName)) {
    log.warn({ defaultModel: repo.defaultName, served: repo.servedNames() }, "the default model is not served: requests that name no model answer NOT_FOUND");
  }
  log.info(
    {
      grpcPort,
      adminPort,
      httpPort,
      adminHttpPort,
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
    (stopping ??= drain({
      listeners: all,
      repo,
      closeRest: async () => {
        await metricsServer?.close();
        telemetry.stop();
        governors.stop();
      },
      disposeEngine: () => engine.dispose(),
      graceMs: config.shutdownGraceMs,
      clock,
      log,
    }));
  const rescan = async () => {
    const failures = await repo.rescan();
    m.modelReloads.inc({ result: failures.length ? "failure" : "success" });
    for (const f of failures) log.error(f, "model reload failed; what served keeps serving");
  };
  return { grpcPort, adminPort, httpPort, adminHttpPort, metricsPort: metricsServer?.port, models: repo, metrics: m, reload, rescan, shutdown };
}
