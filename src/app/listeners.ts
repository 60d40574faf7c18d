import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { BudgetService } from "../grpc/BudgetService.js";
import { CallEnvelope } from "../grpc/CallEnvelope.js";
import { metricsObserver } from "../grpc/CallObserver.js";
import { ClassifierService } from "../grpc/ClassifierService.js";
import { GrpcServer } from "../grpc/GrpcServer.js";
import { HealthService } from "../grpc/HealthService.js";
import { InferenceService } from "../grpc/InferenceService.js";
import { listenerOptions, readTls, type TlsFiles } from "../grpc/listenerOptions.js";
import { ModelAdminService } from "../grpc/ModelAdminService.js";
import { loadProtos } from "../grpc/protos.js";
import type { Metrics } from "../metrics/Metrics.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { modelReloader } from "../model/modelReloader.js";
import { OipService } from "../oip/OipService.js";
import { RestServer, type RestServerOptions } from "../rest/RestServer.js";
import { restRouter } from "../rest/restRoutes.js";
import { SERVER_VERSION } from "../version.js";

/** Services of the public (inference) listener and of the admin listener, as health reports them. */
const PUBLIC_SERVICES = ["ranet.v1.Classifier", "inference.GRPCInferenceService"];
const ADMIN_SERVICES = ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin", "inference.GRPCInferenceService"];

/** A listener (gRPC, or REST beside it) with the health service it reports by. */
export interface Listener {
  server: { listen(): Promise<number>; shutdown(graceMs: number): Promise<void> };
  health: HealthService;
}

/** Every listener: gRPC public and admin, and with httpEnabled their REST twins (same health, same OIP service). */
export interface Listeners {
  public: Listener;
  admin: Listener | undefined;
  rest: Listener | undefined;
  adminRest: Listener | undefined;
}

/**
 * The public listener (Classifier, the Open Inference Protocol, health) and, with adminEnabled, the
 * admin listener, each with its REST endpoints when httpEnabled; not yet listening.
 */
export async function buildListeners(
  config: Config,
  repo: ModelRepository,
  reload: ReturnType<typeof modelReloader>,
  metrics: Metrics,
  log: Logger,
): Promise<Listeners> {
  const envelope = new CallEnvelope(log, metricsObserver(metrics), config.tenantHeader);
  const protos = loadProtos();
  const listener = async (services: Record<string, grpc.UntypedServiceImplementation>, host: string, port: number, tls: TlsFiles) =>
    new GrpcServer(protos, services, await listenerOptions(host, port, config, tls, metrics, log));
  const restLog = log.child({ protocol: "rest" });
  const rest = async (oip: OipService, which: "public" | "admin", host: string, port: number, tls: TlsFiles) =>
    new RestServer(restRouter(oip, which), await restOptions(host, port, config, tls, metrics, restLog, oip.ready));
  const health = new HealthService(PUBLIC_SERVICES, (name) => repo.servedNames().includes(name));
  const oip = new OipService(repo, () => health.current === "SERVING", SERVER_VERSION);
  const publicTls = { cert: config.tlsCertFile, key: config.tlsKeyFile, clientCa: config.tlsClientCaFile };
  const server = await listener(
    {
      "ranet.v1.Classifier": new ClassifierService(repo, envelope, config.maxStreamInflight).handlers(),
      "inference.GRPCInferenceService": new InferenceService(oip, envelope).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    config.host,
    config.port,
    publicTls,
  );
  const restPublic = config.httpEnabled ? { server: await rest(oip, "public", config.host, config.httpPort, publicTls), health } : undefined;
  if (!config.adminEnabled) return { public: { server, health }, admin: undefined, rest: restPublic, adminRest: undefined };
  const adminHealth = new HealthService(ADMIN_SERVICES);
  const adminOip = new OipService(repo, () => adminHealth.current === "SERVING", SERVER_VERSION);
  const adminTls = { cert: config.adminTlsCertFile, key: config.adminTlsKeyFile, clientCa: config.adminTlsClientCaFile };
  const tenants = config.tenants.map((t) => t.name);
  const admin = await listener(
    {
      "ranet.v1.BudgetAdmin": new BudgetService(repo, envelope, tenants).handlers(),
      "ranet.v1.ModelAdmin": new ModelAdminService(repo, reload, envelope).handlers(),
      "inference.GRPCInferenceService": new InferenceService(adminOip, envelope).repositoryHandlers(),
      "grpc.health.v1.Health": adminHealth.handlers(),
    },
    config.adminHost,
    config.adminPort,
    adminTls,
  );
  const adminRest = config.httpEnabled
    ? { server: await rest(adminOip, "admin", config.adminHost, config.adminHttpPort, adminTls), health: adminHealth }
    : undefined;
  return { public: { server, health }, admin: { server: admin, health: adminHealth }, rest: restPublic, adminRest };
}

/** A REST listener's options: the same limits, TLS and tenant header as its gRPC twin. */
async function restOptions(
  host: string,
  port: number,
  config: Config,
  tls: TlsFiles,
  metrics: Metrics,
  log: Logger,
  serving: () => boolean,
): Promise<RestServerOptions> {
  return {
    host,
    port,
    maxBodyBytes: config.maxMessageBytes,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
    tenantHeader: config.tenantHeader,
    tls: await readTls(tls),
    retryAfterSeconds: Math.max(1, Math.ceil(config.maxQueueWaitMs / 1000)),
    log,
    metrics,
    serving,
  };
}
