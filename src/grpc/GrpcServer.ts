import http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "pino";
import { directSerializing } from "./directSerializing.js";
import { tolerantService, type UndecodableMessage } from "./tolerantDecoding.js";

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /**
   * HTTP/2 flow-control window of each connection, in bytes (HTTP/2's default when absent:
   * 65535). A busy server reads request data one event-loop turn at a time and grants more window
   * only as it reads, so at 65535 one connection delivers at most one window per round trip: at
   * twice the capacity requests queued in the client for seconds, unseen by admission and by the
   * latency histogram. A wide window lets every request in, where admission answers it at once.
   */
  connectionWindowBytes?: number;
  /** TLS (PEM contents); with clientCa, client certificates are required (mutual TLS). */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  log: Logger;
  /** Called for every request message that could not be decoded (answered INVALID_ARGUMENT). */
  onUndecodable?: (path: string, m: UndecodableMessage) => void;
  /** Called for every message over maxMessageBytes, which grpc-js refuses before any handler runs. */
  onOversized?: (path: string) => void;
}

/**
 * A grpc-js server with the given services plus server reflection (listing just those). Every
 * method decodes tolerantly (garbage is INVALID_ARGUMENT, never INTERNAL), answers of the
 * classifier are written without protobufjs message objects (directSerializing), each connection gets
 * the configured HTTP/2 window, and HTTP/2 connections that the protocol layer closes are logged
 * with the reason.
 */
export class GrpcServer {
  private readonly server: grpc.Server;
  private stopping = false;

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
      const safe = tolerantService(directSerializing(definition), impl, opts.onUndecodable);
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
   * Gives every connection its flow-control window (connectionWindowBytes), and logs HTTP/2
   * connections that close under calls still running, which fails those calls
   * (clients see INTERNAL "RST_STREAM with error code 2" or UNAVAILABLE) without any handler
   * knowing. The known cause: nghttp2's rapid-reset protection (CVE-2023-44487) sends GOAWAY
   * INTERNAL_ERROR when a client cancels streams faster than about 1,000 in a burst (e.g. a burst
   * of calls with 1 ms deadlines), failing the other calls on that connection; Node 20 has no
   * setting for that limit. The log line names the connection and its recent cancellations.
   */
  private watchSessions(): void {
    // grpc-js (pinned in package.json at the version test/integration/server.test.ts and
    // flowControl.test.ts cover) has no public way to reach a server's HTTP/2 sessions: its
    // 'grpc-node.flow_control_window' option applies to client connections only (transport.js),
    // server interceptors see calls, not connections, and createConnectionInjector would mean
    // owning every listening socket. So the sessions come from its private http2Servers map.
    const servers = (this.server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
    for (const s of servers?.keys() ?? []) {
      s.on("session", (session: http2.ServerHttp2Session) => {
        if (this.opts.connectionWindowBytes) session.setLocalWindowSize(this.opts.connectionWindowBytes);
        const socket = session.socket;
        const peer = socket ? `${socket.remoteAddress}:${socket.remotePort}` : "?";
        let lost = 0;
        const cancels = new RecentCounter(RECENT_CANCELS_S);
        session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
          this.watchStatus(stream, String(headers[":path"] ?? ""));
          stream.once("close", () => {
            if (stream.rstCode === http2.constants.NGHTTP2_CANCEL && !session.destroyed) cancels.add(performance.now());
            else if (session.destroyed && !this.stopping) lost++;
          });
        });
        let error: Error | undefined;
        session.on("error", (err: Error) => {
          error = err;
        });
        session.once("close", () => {
          if (lost === 0 || this.stopping) return;
          const recent = cancels.count(performance.now());
          this.opts.log.warn(
            { peer, failedCalls: lost, clientCancelsLast10s: recent, ...(error ? { err: error } : {}) },
            error || recent >= RAPID_RESET_HINT
              ? "HTTP/2 connection closed by the protocol layer with calls running; they failed (after a burst of client cancellations: nghttp2's rapid-reset protection)"
              : "HTTP/2 connection closed with calls running; they failed",
          );
        });
      });
    }
  }

  /**
   * Sees the status grpc-js itself sends on a stream: a message over maxMessageBytes is refused
   * (RESOURCE_EXHAUSTED, "Received message larger than max") before any handler runs, so only
   * here can it be counted. Not with an interceptor: grpc-js (pinned, see watchSessions) sends
   * that status from its innermost call (BaseServerInterceptingCall.handleDataFrame), which no
   * server interceptor's responder sees.
   */
  private watchStatus(stream: http2.ServerHttp2Stream, path: string): void {
    const onOversized = this.opts.onOversized;
    if (!onOversized) return;
    const check = (headers: http2.OutgoingHttpHeaders | undefined) => {
      if (Number(headers?.["grpc-status"]) !== grpc.status.RESOURCE_EXHAUSTED) return;
      if (/larger than max/.test(decodeURIComponent(String(headers?.["grpc-message"] ?? "")))) onOversized(path);
    };
    const respond = stream.respond.bind(stream);
    stream.respond = (headers, options) => {
      check(headers);
      respond(headers, options);
    };
    const sendTrailers = stream.sendTrailers.bind(stream);
    stream.sendTrailers = (headers) => {
      check(headers);
      sendTrailers(headers);
    };
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.opts.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], Boolean(tls.clientCa));
  }

  /** Stops accepting calls; waits for running calls up to graceMs, then cancels the rest and closes every connection. */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
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

/** Client cancellations counted towards the rapid-reset hint, and the window (seconds) they are counted in. */
const RAPID_RESET_HINT = 300;
const RECENT_CANCELS_S = 10;

/** Events in the last `seconds` seconds, counted in one-second buckets (constant memory). */
class RecentCounter {
  private readonly buckets: number[];
  private readonly stamps: number[];

  constructor(private readonly seconds: number) {
    this.buckets = new Array<number>(seconds).fill(0);
    this.stamps = new Array<number>(seconds).fill(-1);
  }

  add(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.seconds;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]!++;
  }

  count(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    return this.buckets.reduce((n, b, i) => (now - this.stamps[i]! < this.seconds ? n + b : n), 0);
  }
}
