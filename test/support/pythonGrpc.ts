import { spawn } from "node:child_process";
import path from "node:path";

/** The system Python with python3-grpcio (installed by .ci/run). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

export interface PyGroup {
  name: string;
  path: string;
  body: Buffer;
  count: number;
  timeoutS: number;
}

export type PyReport = Record<string, { codes: Record<string, number>; longest_details_bytes: number; samples: Record<string, string> }>;

/** Runs every call of every group at once on one gRPC C-core channel (grpc_raw_client.py). */
export function pythonCalls(address: string, groups: PyGroup[]): Promise<PyReport> {
  const script = path.resolve("test/support/grpc_raw_client.py");
  const job = { address, groups: groups.map((g) => ({ name: g.name, path: g.path, hex: g.body.toString("hex"), count: g.count, timeout_s: g.timeoutS })) };
  return new Promise((resolve, reject) => {
    const p = spawn(SYSTEM_PYTHON, [script], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`grpc_raw_client.py exited ${code}: ${err}`))));
    p.stdin.end(JSON.stringify(job));
  });
}
