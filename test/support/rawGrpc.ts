import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { PROTO_DIR, PROTO_FILES } from "../../src/grpc/protos.js";

/** The answer to a raw call: gRPC status code name and details. */
export interface RawStatus {
  code: string;
  details: string;
}

const identity = (b: Buffer) => b;

/** A unary call with the request given as bytes (anything: garbage included); resolves with its status. */
export function rawUnary(address: string, path: string, body: Buffer, deadlineMs = 10_000): Promise<RawStatus> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<RawStatus>((resolve) => {
    client.makeUnaryRequest(path, identity, identity, body, { deadline: Date.now() + deadlineMs }, (err) => {
      client.close();
      resolve(err ? { code: grpc.status[err.code]!, details: err.details } : { code: "OK", details: "" });
    });
  });
}

/** A server-streaming call with a raw request: its first message or its status. */
export function rawServerStream(address: string, path: string, body: Buffer): Promise<RawStatus> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<RawStatus>((resolve) => {
    const call = client.makeServerStreamRequest(path, identity, identity, body, { deadline: Date.now() + 10_000 });
    call.on("data", () => {
      call.cancel();
      client.close();
      resolve({ code: "OK", details: "" });
    });
    call.on("error", (err: grpc.ServiceError) => {
      client.close();
      resolve({ code: grpc.status[err.code]!, details: err.details });
    });
  });
}

/** A bidi call that writes raw messages then half-closes: every response (bytes) and the final status. */
export function rawBidi(address: string, path: string, messages: Buffer[]): Promise<{ responses: Buffer[]; status: RawStatus }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(path, identity, identity, { deadline: Date.now() + 20_000 });
    const responses: Buffer[] = [];
    const done = (status: RawStatus) => {
      client.close();
      resolve({ responses, status });
    };
    call.on("data", (b: Buffer) => responses.push(b));
    call.on("error", (err: grpc.ServiceError) => done({ code: grpc.status[err.code]!, details: err.details }));
    call.on("status", (s: grpc.StatusObject) => s.code === grpc.status.OK && done({ code: "OK", details: "" }));
    for (const m of messages) call.write(m);
    call.end();
  });
}

let root: protobuf.Root | undefined;

/** The protobuf type of a message by full name (e.g. ranet.v1.ClassifyRequest), from the served protos. */
export function messageType(fullName: string): protobuf.Type {
  root ??= (() => {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (target.startsWith("/") ? target : `${PROTO_DIR}/${target}`);
    r.loadSync(PROTO_FILES, { keepCase: true });
    return r;
  })();
  return root.lookupType(fullName);
}

/** Encodes `obj` as `fullName` (fields as in the .proto, snake_case). */
export function encode(fullName: string, obj: Record<string, unknown>): Buffer {
  const t = messageType(fullName);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

/** Decodes a response. */
export function decode(fullName: string, bytes: Buffer): Record<string, any> {
  const t = messageType(fullName);
  return t.toObject(t.decode(bytes), { longs: Number, defaults: true }) as Record<string, any>;
}
