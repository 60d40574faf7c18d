import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
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
import { ModelAdminService } from "./grpc/ModelAdminService.js";
import { loadProtos } from "./grpc/protos.js";
import { Metrics } from "./metrics/Metrics.js";
import { loadServedModel, type ServedModel } from "./model/loadServedModel.js";
import { ModelHost, type ModelSource, type ReloadResult } from "./model/ModelHost.js";
import { resolveModelDir } from "./model/resolveModelDir.js";
import type { PipelineHooks } from "./pipeline/Pipeline.js";
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

/** Services of the public (inference) listener and of the admin listener, as health reports them. */
const PUBLIC_SERVICES = ["ranet.v1.Classifier", "inference.GRPCInferenceService"];
const ADMIN_SERVICES = ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin"];

/** Wires config -> metrics -> model (engine, budget, pipeline) -> gRPC server (the composition root's body). */
export async function startApp(config: Config, log: Logger, clock: Clock = systemClock): Promise<App> {
  const modelRoot = path.resolve(config.modelRoot ?? path.dirname(path.resolve(config.modelDir)));
  const loadLog = log.child({ component: "model" });
  const firstManifest = await loadManifest(path.resolve(config.modelDir));
  // histogram buckets at the exits' FLOPs: the first version's (they stay until a restart)
  const m = new Metrics(firstManifest.exits.map((e) => e.flops));
  const hooks: PipelineHooks = {
    batchRun: (stage, size, seconds) => {
      m.stageBatchSize.observe({ stage: stage + 1 }, size);
      m.stageDuration.observe({ stage: stage + 1 }, seconds);
    },
    queueDepth: (stage, depth) => m.queueDepth.set({ stage: stage + 1 }, depth),
    exitTaken: (exit, flops) => {
      m.exitsTaken.inc({ exit: exit + 1 });
      m.requestFlops.observe(flops);
    },
    dropped: (reason) => m.dropped.inc({ reason }),
  };
  const cpus = usableCpus();
  log.info({ cpus: cpus.cpus, source: cpus.source }, "usable CPUs");
  const deps = { config, clock, log: loadLog, hooks, cpus };
  const load = async (dir: string) => loadServedModel(await loadManifest(dir), deps);
  const first = await loadServedModel(firstManifest, deps);
  const publishModel = (served: ServedModel) => {
    m.modelInfo.reset();
    m.modelInfo.set({ model: served.manifest.name, version: served.manifest.version, execution_provider: served.provider }, 1);
    m.exitThreshold.reset();
  };
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
  m.budgetLoadFactor.set(1);
  m.configMaxQueueWait.set(config.maxQueueWaitMs / 1000);
  m.configInfo.set({ preferred_execution_provider: config.executionProviders[0] }, 1);
  const host = new ModelHost<ServedModel>(first, {
    load,
    log: loadLog,
    onSwap: (next, previous) => {
      // an operator's run-time budget target carries over, as the same fraction of the last exit
      const prev = previous.budget.status();
      if (previous.budget.mode !== "fixed" && next.budget.mode !== "fixed") {
        next.budget.setTarget((prev.targetFlops / prev.lastExitFlops) * next.budget.status().lastExitFlops);
      }
      if (governor) next.budget.setLoadFactor(governor.loadFactor);
      publishModel(next);
    },
  });
  publishModel(first);
  const publishBudget = () => {
    const served = host.current;
    const st = served.budget.status();
    st.thresholds.forEach((t, k) => {
      Number.isFinite(t) && m.exitThreshold.set({ exit: k + 1 }, t);
    });
    m.budgetTargetFlops.reset();
    m.budgetRealizedFlops.reset();
    if (st.mode !== "fixed") {
      m.budgetTargetFlops.set({ mode: st.mode }, st.targetFlops);
      if (st.observed > 0) m.budgetRealizedFlops.set({ mode: st.mode }, st.realizedFlops);
    }
    m.queueWaitEstimate.set(served.pipeline.estimatedWaitMs() / 1000);
  };
  publishBudget();
  const budgetTimer = setInterval(publishBudget, 1000).unref();
  const reload = async (modelDir = "") => {
    try {
      const dir = await resolveModelDir(modelDir, modelRoot, config.modelDir);
      const r = await host.reload(dir);
      m.modelReloads.inc({ result: "success" });
      publishBudget();
      return r;
    } catch (err) {
      m.modelReloads.inc({ result: "failure" });
      loadLog.error({ modelDir: modelDir || config.modelDir, reason: (err as Error).message }, "model reload failed; the current version keeps serving");
      throw err;
    }
  };

  const observe = metricsObserver(m);
  const grpcLog = log.child({ component: "grpc" });
  const envelope = new CallEnvelope(grpcLog, observe);
  const health = new HealthService(PUBLIC_SERVICES);
  const listener = (tls: { cert?: string; key?: string; ca?: string }, host: string, port: number) =>
    (async () => ({
      host,
      port,
      maxMessageBytes: config.maxMessageBytes,
      keepaliveTimeMs: config.keepaliveTimeMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      log: grpcLog,
      onUndecodable: (method: string) => m.undecodable.inc({ method: method.slice(method.lastIndexOf("/") + 1) }),
      onOversized: (method: string) => m.requests.inc({ method: method.slice(method.lastIndexOf("/") + 1), code: "RESOURCE_EXHAUSTED" }),
      tls: tls.cert ? { cert: await readFile(tls.cert), key: await readFile(tls.key!), clientCa: tls.ca ? await readFile(tls.ca) : undefined } : undefined,
    }))();
  const protos = loadProtos();
  const server = new GrpcServer(
    protos,
    {
      "ranet.v1.Classifier": new ClassifierService(host, envelope, config.maxStreamInflight).handlers(),
      "inference.GRPCInferenceService": new InferenceService(host, () => health.current === "SERVING", envelope, SERVER_VERSION, {
        maxBatchSize: config.maxBatchSize,
        maxQueueDelayMs: config.maxQueueDelayMs,
        maxQueueSize: config.maxQueueSize,
      }).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    await listener({ cert: config.tlsCertFile, key: config.tlsKeyFile, ca: config.tlsClientCaFile }, config.host, config.port),
  );
  const adminHealth = new HealthService(ADMIN_SERVICES);
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
        await listener({ cert: config.adminTlsCertFile, key: config.adminTlsKeyFile, ca: config.adminTlsClientCaFile }, config.adminHost, config.adminPort),
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
    clearInterval(budgetTimer);
    await Promise.all([server.shutdown(0), admin?.shutdown(0)]);
    await host.dispose();
    throw err;
  }
  governor?.start();
  health.set("SERVING");
  adminHealth.set("SERVING");
  const manifest = first.manifest;
  log.info(
    {
      grpcPort,
      adminPort,
      tls: Boolean(config.tlsCertFile),
      mutualTls: Boolean(config.tlsClientCaFile),
      metricsPort: metricsServer?.port,
      model: manifest.name,
      version: manifest.version,
      exits: manifest.exits.length,
      modelRoot,
    },
    "serving",
  );

  let stopping: Promise<boolean> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const startedMs = performance.now();
      health.set("NOT_SERVING");
      adminHealth.set("NOT_SERVING");
      log.info({ inflight: host.current.pipeline.inflightCount, graceMs: config.shutdownGraceMs }, "draining");
      const drained = await Promise.race([
        host.drain().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdownGraceMs).unref()),
      ]);
      if (!drained) log.warn({ inflight: host.current.pipeline.inflightCount }, "grace period over; cancelling remaining calls");
      health.close();
      adminHealth.close();
      // calls still open (streams the client keeps open, a reload in progress) get what is left
      // of the grace period, at most a second; stalled metrics connections are cut at once
      const leftMs = drained ? Math.max(0, Math.min(1000, config.shutdownGraceMs - (performance.now() - startedMs))) : 0;
      await Promise.all([server.shutdown(leftMs), admin?.shutdown(leftMs), metricsServer?.close()]);
      clearInterval(budgetTimer);
      governor?.stop();
      await host.dispose();
      log.info({ drained, ms: Math.round(performance.now() - startedMs) }, "stopped");
      return drained;
    })());
  return { grpcPort, adminPort, metricsPort: metricsServer?.port, models: host, metrics: m, reload, shutdown };
}
