import type * as grpc from "@grpc/grpc-js";
import { statusFor } from "./statusFor.js";

/** A unary handler from a synchronous function; thrown errors become their status code. */
export function unaryHandler<Req>(fn: (req: Req) => unknown) {
  return (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>): void => {
    try {
      cb(null, fn(call.request));
    } catch (err) {
      cb(statusFor(err));
    }
  };
}
