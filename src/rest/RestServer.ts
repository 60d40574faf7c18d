import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import type { CallContext } from "../core/CallContext.js";
import { Cancellation } from "../core/Cancellation.js";
import { echo } from "../core/errors.js";
import { tenantFrom } from "../core/tenantName.js";
import { callTimer } from "../metrics/callTimer.js";
import type { Metrics } from "../metrics/Metrics.js";
import { type HttpError, httpStatusFor } from "./httpStatusFor.js";
import { BodyRefused, compress, readBody, responseEncoding } from "./requestBody.js";
import type { RestResult, RestRouter } from "./restRoutes.js";

export interface RestServerOptions {
  host: string;
  port: number;
  /** Largest request body, before and after decompression (config maxMessageBytes). */
  maxBodyBytes: number;
  /** Time a client has to send a whole request, headers and body (slow senders are cut off). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** The header naming a request's tenant (config tenantHeader); a client certificate names it instead under mutual TLS. */
  tenantHeader: string;
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Seconds a refused client (429, 503) is asked to wait (Retry-After). */
  retryAfterSeconds: number;
  log: Logger;
  metrics?: Metrics;
  /** Whether the server serves (false while starting and draining): answers then close their connection. */
  serving?: () => boolean;
}

/** Longest request header block, in bytes (Node's default, set here so it is a promise). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Responses at least this long are compressed for a client that accepts gzip or deflate. */
const COMPRESS_FROM_BYTES = 1024;
const EMPTY = Buffer.alloc(0);

/**
 * The REST (HTTP/1.1) front of the Open Inference Protocol: node:http (or https) with bounded
 * bodies and headers, a deadline for slow senders, keep-alive, gzip and deflate both ways; each
 * request routed by `router`, cancelled when its client disconnects, errors turned into HTTP
 * statuses in one place (httpStatusFor) with `{"error": "..."}` bodies.
 */
export class RestServer {
  private readonly server: Server;
  private stopping = false;

  constructor(
    private readonly router: RestRouter,
    private readonly opts: RestServerOptions,
  ) {
    const handler = (req: IncomingMessage, res: ServerResponse) =>
      this.handle(req, res).catch((err) => {
        // answering itself failed (the connection went away mid-answer): nothing left to tell the client
        opts.log.warn({ err, path: req.url }, "REST answer not sent");
        res.destroy();
      });
    const common = {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: opts.requestTimeoutMs,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      // how often Node looks for requests past requestTimeout (its default, 30 s, would let a slow sender hold on that much longer)
      connectionsCheckingInterval: Math.min(1000, opts.requestTimeoutMs),
    };
    this.server = opts.tls
      ? createHttpsServer(
          {
            ...common,
            cert: opts.tls.cert,
            key: opts.tls.key,
            ca: opts.tls.clientCa,
            requestCert: Boolean(opts.tls.clientCa),
            rejectUnauthorized: Boolean(opts.tls.clientCa),
          },
          handler,
        )
      : createHttpServer(common, handler);
    this.server.headersTimeout = Math.min(opts.requestTimeoutMs, 10_000);
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      // a malformed request line or header block, headers too large, a timeout: Node's own answer, no handler runs
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      if (socket.writable)
        socket.end(
          `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      else socket.destroy();
    });
  }

  /** Binds and starts; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting connections and closes idle ones; running requests get up to graceMs, then every connection is closed. */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    let done: ((code: string) => void) | undefined;
    try {
      const route = this.router(path);
      if (!route) return this.send(req, res, 404, { error: `no endpoint ${echo(path)}: this server serves the Open Inference Protocol (KServe v2) under /v2` });
      const method = req.method === "HEAD" ? "GET" : req.method;
      const handler = route.methods[method as "GET" | "POST"];
      if (!handler) {
        res.setHeader("Allow", Object.keys(route.methods).join(", "));
        return this.send(req, res, 405, { error: `${echo(req.method)} ${echo(path)}: expected ${Object.keys(route.methods).join(" or ")}` });
      }
      if (route.observed && this.opts.metrics) done = callTimer(this.opts.metrics, route.observed, "rest");
      const cancellation = new Cancellation();
      res.on("close", () => {
        if (!res.writableFinished) cancellation.cancel(); // the client went away before its answer: withdraw the request
      });
      const body = method === "POST" ? await readBody(req, this.opts.maxBodyBytes) : EMPTY;
      const ctx: CallContext = { cancellation, deadlineMs: Infinity, tenant: this.tenantOf(req) };
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const result = await handler({ body, header, model: route.model }, ctx);
      const answered = done;
      done = undefined;
      answered?.("OK");
      await this.answer(req, res, result);
    } catch (err) {
      const e: HttpError =
        err instanceof BodyRefused
          ? { status: err.status, code: err.status === 413 ? "RESOURCE_EXHAUSTED" : "INVALID_ARGUMENT", message: err.message }
          : httpStatusFor(err);
      if (e.code === "INTERNAL") this.opts.log.error({ path, err }, "REST request failed");
      done?.(e.code);
      if (res.headersSent || res.destroyed) return;
      if (e.status === 413) res.setHeader("Connection", "close"); // the rest of the body is not read
      if (e.status === 429 || e.status === 503) res.setHeader("Retry-After", String(this.opts.retryAfterSeconds));
      await this.send(req, res, e.status, { error: e.message });
    }
  }

  private tenantOf(req: IncomingMessage): string {
    const socket = req.socket as Partial<TLSSocket>;
    const cert = socket.authorized ? socket.getPeerCertificate?.() : undefined;
    const v = req.headers[this.opts.tenantHeader];
    return tenantFrom(cert, Array.isArray(v) ? v[0] : v, this.opts.tenantHeader);
  }

  private answer(req: IncomingMessage, res: ServerResponse, r: RestResult): Promise<void> {
    if (!("infer" in r)) return this.send(req, res, r.status, r.json);
    const { json, binary } = r.infer;
    if (binary.length === 0) return this.write(req, res, 200, "application/json", json);
    res.setHeader("Inference-Header-Content-Length", String(json.length));
    return this.write(req, res, 200, "application/octet-stream", Buffer.concat([json, ...binary]));
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, json: unknown): Promise<void> {
    return this.write(req, res, status, "application/json", json === undefined ? EMPTY : Buffer.from(JSON.stringify(json), "utf8"));
  }

  private async write(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: Buffer): Promise<void> {
    if (res.destroyed) return;
    // draining (or not serving yet): no next request on this connection, so clients reconnect to a serving replica
    if (this.stopping || this.opts.serving?.() === false) res.setHeader("Connection", "close");
    const encoding = body.length >= COMPRESS_FROM_BYTES ? responseEncoding(req.headers["accept-encoding"]) : undefined;
    const out = encoding ? await compress(body, encoding) : body;
    if (encoding) res.setHeader("Content-Encoding", encoding);
    res.setHeader("Vary", "Accept-Encoding");
    if (body.length > 0) res.setHeader("Content-Type", type);
    res.setHeader("Content-Length", out.length);
    res.writeHead(status);
    res.end(req.method === "HEAD" ? undefined : out);
  }
}
