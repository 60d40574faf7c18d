import type http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { PackageDefinition } from "@grpc/proto-loader";
import type { Logger } from "pino";
import { tolerantService, type UndecodableMessage } from "./tolerantDecoding.js";

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** TLS (PEM contents); with clientCa, client certificates are required (mutual TLS). */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  log: Logger;
  /** Called for every request message that could not be decoded (answered INVALID_ARGUMENT). */
  onUndecodable?: (path: string, m: UndecodableMessage) => void;
}

/**
 * A grpc-js server with the given services plus server reflection (listing just those). Every
 * method decodes tolerantly (garbage is INVALID_ARGUMENT, never INTERNAL), and HTTP/2
 * connections that the protocol layer closes are logged with the reason.
 */
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
    const add = (definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
      const safe = tolerantService(definition, impl, opts.onUndecodable);
      this.server.addService(safe.definition, safe.impl);
    };
    for (const [fullName, impl] of Object.entries(services)) {
      const ctor = fullName.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], loaded) as grpc.ServiceClientConstructor;
      add(ctor.service, impl);
    }
    new ReflectionService(packageDefinition, { services: Object.keys(services) }).addToServer({ addService: add } as Pick<grpc.Server, "addService">);
  }

  /** Binds and starts; resolves with the bound port. */
  async listen(): Promise<number> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${this.opts.host}:${this.opts.port}`, this.credentials(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.watchSessions();
    return port;
  }

  /**
   * Logs HTTP/2 connections that fail at the protocol layer. Such a failure fails every call on
   * the connection (clients see INTERNAL "RST_STREAM with error code 2" or UNAVAILABLE) without
   * any handler knowing. The known cause: nghttp2's rapid-reset protection (CVE-2023-44487) closes
   * a connection on which the client cancels streams faster than about 1,000 in a burst, e.g. a
   * burst of calls with 1 ms deadlines; Node 20 offers no setting for that limit.
   */
  private watchSessions(): void {
    const servers = (this.server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
    for (const s of servers?.keys() ?? []) {
      s.on("session", (session: http2.ServerHttp2Session) => {
        session.on("error", (err: Error & { code?: string }) => {
          const socket = session.socket;
          this.opts.log.warn(
            { peer: socket ? `${socket.remoteAddress}:${socket.remotePort}` : "?", reason: `${err.code ?? ""} ${err.message}`.trim() },
            "HTTP/2 connection closed by the protocol layer; its calls fail (a client cancelling streams in a burst of about 1,000 trips the HTTP/2 rapid-reset protection)",
          );
        });
      });
    }
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.opts.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.clientCa));
  }

  /** Stops accepting calls; waits for running calls up to graceMs, then cancels the rest and closes every connection. */
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
