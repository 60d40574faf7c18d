/**
 * A Classifier that answers every request at once with a constant response: the load
 * generator's own ceiling (what it can send and receive when the server costs nothing).
 * Prints its port on stdout.
 */
import * as grpc from "@grpc/grpc-js";
import type { ProtoGrpcType } from "../../src/generated/classifier.js";
import { loadProtos } from "../../src/grpc/protos.js";

const pkg = grpc.loadPackageDefinition(loadProtos()) as unknown as ProtoGrpcType;
const server = new grpc.Server({ "grpc.max_receive_message_length": 64 << 20 });
const answer = (request_id: string) => ({ request_id, class_index: 1, label: "x", confidence: 1, exit: 1, flops: 1 });
server.addService(pkg.ranet.v1.Classifier.service, {
  Classify: (call: grpc.ServerUnaryCall<{ request_id: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, answer(call.request.request_id)),
  ClassifyStream: (call: grpc.ServerDuplexStream<{ request_id: string }, unknown>) => {
    call.on("data", (r: { request_id: string }) => call.write(answer(r.request_id)));
    call.on("end", () => call.end());
  },
  GetModelMetadata: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
