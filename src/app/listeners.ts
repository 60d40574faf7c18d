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
import { listenerOptions, type TlsFiles } from "../grpc/listenerOptions.js";
import { ModelAdminService } from "../grpc/ModelAdminService.js";
import { loadProtos } from "../grpc/protos.js";
import type { Metrics } from "../metrics/Metrics.js";
import type { ModelRepository } from "../model/ModelRepository.js";
import type { modelReloader } from "../model/modelReloader.js";
import { OipService } from "../oip/OipService.js";
import { SERVER_VERSION } from "../version.js";

/** Services of the public (inference) listener and of the admin listener, as health reports them. */
const PUBLIC_SERVICES = ["ranet.v1.Classifier", "inference.GRPCInferenceService"];
const ADMIN_SERVICES = ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin", "inference.GRPCInferenceService"];

/** A gRPC listener with its health service. */
export interface Listener {
  server: GrpcServer;
  health: HealthService;
}

/** The public listener (Classifier, the Open Inference Protocol, health) and, with adminEnabled, the admin listener; not yet listening. */
export async function buildListeners(
  config: Config,
  repo: ModelRepository,
  reload: ReturnType<typeof modelReloader>,
  metrics: Metrics,
  log: Logger,
): Promise<{ public: Listener; admin: Listener | undefined }> {
  const envelope = new CallEnvelope(log, metricsObserver(metrics), config.tenantHeader);
  const protos = loadProtos();
  const listener = async (services: Record<string, grpc.UntypedServiceImplementation>, host: string, port: number, tls: TlsFiles) =>
    new GrpcServer(protos, services, await listenerOptions(host, port, config, tls, metrics, log));
  const health = new HealthService(PUBLIC_SERVICES, (name) => repo.servedNames().includes(name));
  const server = await listener(
    {
      "ranet.v1.Classifier": new ClassifierService(repo, envelope, config.maxStreamInflight).handlers(),
      "inference.GRPCInferenceService": new InferenceService(new OipService(repo, () => health.current === "SERVING", SERVER_VERSION), envelope).handlers(),
      "grpc.health.v1.Health": health.handlers(),
    },
    config.host,
    config.port,
    { cert: config.tlsCertFile, key: config.tlsKeyFile, clientCa: config.tlsClientCaFile },
  );
  if (!config.adminEnabled) return { public: { server, health }, admin: undefined };
  const adminHealth = new HealthService(ADMIN_SERVICES);
  const tenants = config.tenants.map((t) => t.name);
  const admin = await listener(
    {
      "ranet.v1.BudgetAdmin": new BudgetService(repo, envelope, tenants).handlers(),
      "ranet.v1.ModelAdmin": new ModelAdminService(repo, reload, envelope).handlers(),
      "inference.GRPCInferenceService": new InferenceService(new OipService(repo, () => adminHealth.current === "SERVING", SERVER_VERSION), envelope).repositoryHandlers(),
      "grpc.health.v1.Health": adminHealth.handlers(),
    },
    config.adminHost,
    config.adminPort,
    { cert: config.adminTlsCertFile, key: config.adminTlsKeyFile, clientCa: config.adminTlsClientCaFile },
  );
  return { public: { server, health }, admin: { server: admin, health: adminHealth } };
}
