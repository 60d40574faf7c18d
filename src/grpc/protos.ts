import path from "node:path";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";

export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../proto");
export const PROTO_FILES = ["ranet/v1/classifier.proto", "inference/grpc_service.proto", "grpc/health/v1/health.proto"];

/** Field names as in the .proto files (snake_case), 64-bit integers as numbers, defaults filled. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}
