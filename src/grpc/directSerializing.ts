import type * as grpc from "@grpc/grpc-js";
import { encodeClassifyResponse } from "./classifyResponseCodec.js";

/** Response types written directly (full protobuf name), each falling back to the generic serializer for what it does not take. */
const DIRECT: Record<string, (value: never) => Buffer | undefined> = {
  "ranet.v1.ClassifyResponse": encodeClassifyResponse,
};

/** The service with the responses of DIRECT's types written directly; other methods as they are. */
export function directSerializing(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const defs: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    const direct = DIRECT[responseTypeName(method)];
    defs[name] = direct ? { ...method, responseSerialize: (value: unknown) => direct(value as never) ?? method.responseSerialize(value) } : method;
  }
  return defs as grpc.ServiceDefinition;
}

function responseTypeName(method: grpc.MethodDefinition<unknown, unknown>): string {
  const short = (method as { responseType?: { type?: { name?: string } } }).responseType?.type?.name ?? "";
  const pkg = method.path.slice(1, method.path.indexOf("/", 1)).split(".").slice(0, -1).join(".");
  return pkg ? `${pkg}.${short}` : short;
}
