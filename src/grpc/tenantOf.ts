import type * as grpc from "@grpc/grpc-js";
import { echo, invalidArgument } from "../core/errors.js";

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

/** The calls a tenant is read from: their metadata and, with TLS, the client's certificate. */
type IdentifiedCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, "metadata" | "getAuthContext">;

/**
 * The tenant a call comes from: with mutual TLS, the client certificate's subject CN, else its
 * first URI SAN (a header cannot override it); otherwise the value of the metadata key `header`.
 * "" when neither names one. A header value that is not a tenant name (1-128 letters, digits,
 * '.', '_', ':', '/', '@' or '-', so a URI SAN can be one) is INVALID_ARGUMENT, quoting at most
 * 64 characters of it.
 */
export function tenantOf(call: IdentifiedCall, header: string): string {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  if (cert && Object.keys(cert).length > 0) {
    const cn = cert.subject?.CN;
    if (typeof cn === "string" && cn) return cn;
    const uri = /(?:^|, )URI:([^,]+)/.exec(cert.subjectaltname ?? "")?.[1];
    if (uri) return uri;
  }
  const values = call.metadata?.get(header) ?? [];
  if (values.length === 0) return "";
  const value = String(values[0]);
  if (!TENANT_NAME.test(value))
    throw invalidArgument(`metadata '${header}'`, "a tenant name (1-128 letters, digits, '.', '_', ':', '/', '@' or '-')", echo(value));
  return value;
}
