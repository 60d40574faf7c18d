import { echo, invalidArgument } from "./errors.js";

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

/** The parts of a verified client certificate that name a tenant (node's PeerCertificate). */
export interface TenantCertificate {
  subject?: { CN?: string | string[] };
  subjectaltname?: string;
}

/**
 * The tenant a call comes from, whatever its protocol: with mutual TLS, the client certificate's
 * subject CN, else its first URI SAN (a header cannot override it); otherwise `headerValue`, the
 * value of the header (gRPC metadata key) `header`. "" when neither names one. A header value
 * that is not a tenant name (1-128 letters, digits, '.', '_', ':', '/', '@' or '-', so a URI SAN
 * can be one) is INVALID_ARGUMENT, quoting at most 64 characters of it.
 */
export function tenantFrom(cert: TenantCertificate | undefined, headerValue: string | undefined, header: string, headerKind = "header"): string {
  if (cert && Object.keys(cert).length > 0) {
    const cn = cert.subject?.CN;
    if (typeof cn === "string" && cn) return cn;
    const uri = /(?:^|, )URI:([^,]+)/.exec(cert.subjectaltname ?? "")?.[1];
    if (uri) return uri;
  }
  if (headerValue === undefined) return "";
  if (!TENANT_NAME.test(headerValue))
    throw invalidArgument(`${headerKind} '${header}'`, "a tenant name (1-128 letters, digits, '.', '_', ':', '/', '@' or '-')", echo(headerValue));
  return headerValue;
}
