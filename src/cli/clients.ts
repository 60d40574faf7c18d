import * as grpc from "@grpc/grpc-js";
import { loadProtos } from "../grpc/protos.js";

type Ctor = grpc.ServiceClientConstructor;

/** The admin listener's default address (config adminHost and adminPort). */
export const DEFAULT_ADMIN_ADDRESS = "127.0.0.1:50052";

export interface Clients {
  classifier: grpc.Client & Record<string, any>;
  inference: grpc.Client & Record<string, any>;
  budget: grpc.Client & Record<string, any>;
  modelAdmin: grpc.Client & Record<string, any>;
  health: grpc.Client & Record<string, any>;
  close(): void;
}

/**
 * gRPC clients of the server's services (insecure channels unless creds are given): the
 * inference services on `address`, BudgetAdmin and ModelAdmin on `adminAddress`, the server's
 * separate admin listener (config adminHost:adminPort, default 127.0.0.1:50052).
 */
export function makeClients(
  address: string,
  options: grpc.ClientOptions = {},
  creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  adminAddress = DEFAULT_ADMIN_ADDRESS,
  adminCreds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Clients {
  const pkg = grpc.loadPackageDefinition(loadProtos()) as any;
  const opts = { "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 64 * 1024 * 1024, ...options };
  const classifier = new (pkg.ranet.v1.Classifier as Ctor)(address, creds, opts);
  const inference = new (pkg.inference.GRPCInferenceService as Ctor)(address, creds, opts);
  const health = new (pkg.grpc.health.v1.Health as Ctor)(address, creds, opts);
  const budget = new (pkg.ranet.v1.BudgetAdmin as Ctor)(adminAddress, adminCreds, opts);
  const modelAdmin = new (pkg.ranet.v1.ModelAdmin as Ctor)(adminAddress, adminCreds, opts);
  return {
    classifier: classifier as Clients["classifier"],
    inference: inference as Clients["inference"],
    health: health as Clients["health"],
    budget: budget as Clients["budget"],
    modelAdmin: modelAdmin as Clients["modelAdmin"],
    close: () => [classifier, inference, health, budget, modelAdmin].forEach((c) => c.close()),
  };
}

/** Promise form of a unary call. */
export function unary<Res = any>(client: any, method: string, req: unknown, deadlineMs?: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    const opts = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    client[method](req, opts, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}
