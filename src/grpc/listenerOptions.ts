import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { Metrics } from "../metrics/Metrics.js";
import type { GrpcServerOptions } from "./GrpcServer.js";

/** Transport settings every listener shares (config keys of the same names). */
export interface TransportSettings {
  maxMessageBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  http2ConnectionWindowBytes: number;
}

/** PEM files of a listener's TLS: certificate chain, key, and a client CA for mutual TLS. */
export interface TlsFiles {
  cert?: string;
  key?: string;
  clientCa?: string;
}

const methodOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** A listener's options: address, transport settings, TLS read from its files, and the metrics of refusals no handler sees. */
export async function listenerOptions(
  host: string,
  port: number,
  t: TransportSettings,
  tls: TlsFiles,
  metrics: Metrics,
  log: Logger,
): Promise<GrpcServerOptions> {
  return {
    host,
    port,
    maxMessageBytes: t.maxMessageBytes,
    keepaliveTimeMs: t.keepaliveTimeMs,
    keepaliveTimeoutMs: t.keepaliveTimeoutMs,
    connectionWindowBytes: t.http2ConnectionWindowBytes,
    log,
    onUndecodable: (path) => metrics.undecodable.inc({ method: methodOf(path) }),
    onOversized: (path) => metrics.requests.inc({ method: methodOf(path), code: "RESOURCE_EXHAUSTED", protocol: "grpc" }),
    tls: await readTls(tls),
  };
}

/** A listener's TLS files read, or undefined without a certificate. */
export async function readTls(tls: TlsFiles): Promise<{ cert: Buffer; key: Buffer; clientCa?: Buffer } | undefined> {
  if (!tls.cert) return undefined;
  return { cert: await readFile(tls.cert), key: await readFile(tls.key!), clientCa: tls.clientCa ? await readFile(tls.clientCa) : undefined };
}
