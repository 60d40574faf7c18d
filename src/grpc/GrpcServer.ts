import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { PackageDefinition } from "@grpc/proto-loader";

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** TLS (PEM contents); with clientCa, client certificates are required (mutual TLS). */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
}

/** A grpc-js server with the given services plus server reflection. */
export class GrpcServer {
  private readonly server: grpc.Server;

  constructor(
    packageDefinition: PackageDefinition,
    services: Record<string, grpc.UntypedServiceImplementation>,
    private readonly opts: GrpcServerOptions,
  ) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": opts.maxMessageBytes,
      "grpc.max_send_message_length": opts.maxMessageBytes,
      "grpc.keepalive_time_ms": opts.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": opts.keepaliveTimeoutMs,
    });
    const loaded = grpc.loadPackageDefinition(packageDefinition);
    for (const [fullName, impl] of Object.entries(services)) {
      const ctor = fullName.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], loaded) as grpc.ServiceClientConstructor;
      this.server.addService(ctor.service, impl);
    }
    new ReflectionService(packageDefinition).addToServer(this.server);
  }

  /** Binds and starts; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`${this.opts.host}:${this.opts.port}`, this.credentials(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.opts.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.clientCa));
  }

  /** Stops accepting calls; waits for running calls up to graceMs, then cancels the rest. */
  async shutdown(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
