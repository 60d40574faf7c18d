import * as grpc from "@grpc/grpc-js";
import type { ProtoGrpcType as ClassifierProto } from "../generated/classifier.js";
import type { HealthClient } from "../generated/grpc/health/v1/Health.js";
import type { ProtoGrpcType as InferenceProto } from "../generated/grpc_service.js";
import type { ProtoGrpcType as HealthProto } from "../generated/health.js";
import type { GRPCInferenceServiceClient } from "../generated/inference/GRPCInferenceService.js";
import type { BudgetAdminClient } from "../generated/ranet/v1/BudgetAdmin.js";
import type { ClassifierClient } from "../generated/ranet/v1/Classifier.js";
import type { ModelAdminClient } from "../generated/ranet/v1/ModelAdmin.js";
import { loadProtos } from "../grpc/protos.js";

/** The admin listener's default address (config adminHost and adminPort). */
export const DEFAULT_ADMIN_ADDRESS = "127.0.0.1:50052";

/** Typed clients of the server's services (types generated from proto/ by `npm run gen:protos`). */
export interface Clients {
  classifier: ClassifierClient;
  inference: GRPCInferenceServiceClient;
  budget: BudgetAdminClient;
  modelAdmin: ModelAdminClient;
  /** The Open Inference Protocol service on the admin listener: the repository extension (RepositoryModelLoad, RepositoryModelUnload). */
  adminInference: GRPCInferenceServiceClient;
  health: HealthClient;
  close(): void;
}

/**
 * gRPC clients of the server's services (insecure channels unless creds are given): the
 * inference services on `address`, BudgetAdmin, ModelAdmin and the repository extension on `adminAddress`, the server's
 * separate admin listener (config adminHost:adminPort, default 127.0.0.1:50052).
 */
export function makeClients(
  address: string,
  options: grpc.ClientOptions = {},
  creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  adminAddress = DEFAULT_ADMIN_ADDRESS,
  adminCreds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Clients {
  const pkg = grpc.loadPackageDefinition(loadProtos()) as unknown as ClassifierProto & InferenceProto & HealthProto;
  const opts = { "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 64 * 1024 * 1024, ...options };
  const clients = {
    classifier: new pkg.ranet.v1.Classifier(address, creds, opts),
    inference: new pkg.inference.GRPCInferenceService(address, creds, opts),
    health: new pkg.grpc.health.v1.Health(address, creds, opts),
    budget: new pkg.ranet.v1.BudgetAdmin(adminAddress, adminCreds, opts),
    modelAdmin: new pkg.ranet.v1.ModelAdmin(adminAddress, adminCreds, opts),
    adminInference: new pkg.inference.GRPCInferenceService(adminAddress, adminCreds, opts),
  };
  return {
    ...clients,
    close: () => {
      for (const c of Object.values(clients)) c.close();
    },
  };
}

/** The last overload of a generated unary method: (request, callback). */
type UnaryFn<Req, Res> = (argument: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
type UnaryMethod<C> = { [M in keyof C]: C[M] extends UnaryFn<infer _Req, infer _Res> ? M : never }[keyof C] & string;
type RequestOf<F> = F extends UnaryFn<infer Req, infer _Res> ? Req : never;
type ResponseOf<F> = F extends UnaryFn<infer _Req, infer Res> ? Res : never;

/** Promise form of a unary call, typed by the generated client: request and response of `method`. */
export function unary<C extends grpc.Client, M extends UnaryMethod<C>>(
  client: C,
  method: M,
  req: RequestOf<C[M]>,
  deadlineMs?: number,
): Promise<ResponseOf<C[M]>> {
  return new Promise((resolve, reject) => {
    const opts: grpc.CallOptions = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    const fn = client[method] as unknown as (req: unknown, opts: grpc.CallOptions, cb: grpc.requestCallback<ResponseOf<C[M]>>) => void;
    fn.call(client, req, opts, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}
