import * as grpc from "@grpc/grpc-js";
import { capMessage } from "./statusFor.js";

/**
 * Stands in for a request message that could not be decoded. grpc-js answers a deserializer
 * that throws with INTERNAL ("Error deserializing request") before any handler runs, and on a
 * stream that ends the whole stream; clients read INTERNAL as a server fault and retry the
 * garbage. Deserializers installed by tolerantService() never throw: they hand this to the
 * handler, which answers INVALID_ARGUMENT (a stream answers the one item and goes on).
 */
export class UndecodableMessage {
  constructor(
    /** Full name of the expected message type, e.g. ranet.v1.ClassifyRequest. */
    readonly typeName: string,
    readonly reason: string,
    readonly bytes: number,
  ) {}

  get message(): string {
    return capMessage(`the request is not a valid ${this.typeName} (${this.bytes} bytes): ${this.reason}`);
  }

  get status(): { code: grpc.status; details: string } {
    return { code: grpc.status.INVALID_ARGUMENT, details: this.message };
  }
}

/** A handler that reads UndecodableMessage items itself (per-item errors on a stream). */
export interface ReadsUndecodable {
  readsUndecodable?: true;
}

type Handler = grpc.UntypedHandleCall & ReadsUndecodable;

/**
 * The service with non-throwing request deserializers, and its handlers guarded so that an
 * UndecodableMessage never reaches code that does not expect one: a unary or server-streaming
 * call answers INVALID_ARGUMENT before the handler runs; a client or bidi stream ends with
 * INVALID_ARGUMENT at the first undecodable message unless its handler is marked
 * ReadsUndecodable (it then answers that item and goes on). Third-party services (reflection)
 * get the same treatment as ours.
 */
export function tolerantService(
  definition: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation,
  onUndecodable: (path: string, m: UndecodableMessage) => void = () => {},
): { definition: grpc.ServiceDefinition; impl: grpc.UntypedServiceImplementation } {
  const defs: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: Record<string, grpc.UntypedHandleCall> = {};
  for (const [name, method] of Object.entries(definition as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    const typeName = requestTypeName(method);
    defs[name] = {
      ...method,
      requestDeserialize: (buf: Buffer) => {
        try {
          return method.requestDeserialize(buf);
        } catch (err) {
          return new UndecodableMessage(typeName, (err as Error).message, buf.length);
        }
      },
    };
    const handler = impl[name] as Handler | undefined;
    if (handler) handlers[name] = guard(method, handler, (m) => onUndecodable(method.path, m));
  }
  return { definition: defs as grpc.ServiceDefinition, impl: handlers };
}

function guard(method: grpc.MethodDefinition<unknown, unknown>, handler: Handler, seen: (m: UndecodableMessage) => void): grpc.UntypedHandleCall {
  if (!method.requestStream) {
    // unary and server streaming: the request is decoded before the handler is called
    return ((call: { request: unknown; emit(ev: string, e: unknown): boolean }, cb?: grpc.sendUnaryData<unknown>) => {
      if (call.request instanceof UndecodableMessage) {
        seen(call.request);
        if (cb) cb(call.request.status);
        else call.emit("error", call.request.status);
        return;
      }
      (handler as (c: unknown, cb?: unknown) => void)(call, cb);
    }) as grpc.UntypedHandleCall;
  }
  if (handler.readsUndecodable) return handler;
  return ((call: grpc.ServerDuplexStream<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => {
    const on = call.on.bind(call);
    // every 'data' listener the handler adds skips undecodable messages; the first one ends the call
    let failed = false;
    call.on = ((event: string, listener: (...args: unknown[]) => void) => {
      if (event !== "data") return on(event, listener);
      return on("data", (m: unknown) => {
        if (!(m instanceof UndecodableMessage)) return listener(m);
        if (failed) return;
        failed = true;
        seen(m);
        if (cb) cb(m.status);
        else call.emit("error", m.status);
      });
    }) as typeof call.on;
    (handler as (c: unknown, cb?: unknown) => void)(call, cb);
  }) as grpc.UntypedHandleCall;
}

/** "ranet.v1.ClassifyRequest" for a method of a proto-loader service definition. */
function requestTypeName(method: grpc.MethodDefinition<unknown, unknown>): string {
  const short = (method as { requestType?: { type?: { name?: string } } }).requestType?.type?.name ?? "request message";
  const pkg = method.path.slice(1, method.path.indexOf("/", 1)).split(".").slice(0, -1).join(".");
  return pkg ? `${pkg}.${short}` : short;
}
