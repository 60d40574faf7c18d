import type * as grpc from "@grpc/grpc-js";
import { tenantFrom } from "../core/tenantName.js";

/** The calls a tenant is read from: their metadata and, with TLS, the client's certificate. */
type IdentifiedCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, "metadata" | "getAuthContext">;

/** The tenant a gRPC call comes from (tenantFrom): the client certificate, else the metadata key `header`. */
export function tenantOf(call: IdentifiedCall, header: string): string {
  const values = call.metadata?.get(header) ?? [];
  return tenantFrom(call.getAuthContext?.()?.sslPeerCertificate, values.length ? String(values[0]) : undefined, header, "metadata");
}
