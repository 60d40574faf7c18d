/**
 * Every client example in examples/ runs against a live server and prints the expected class of
 * each shipped image (labels only: exit and FLOPs depend on the controller's state).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../support/fixtures.js";

/** Runs an example without blocking the event loop (the server under test runs in this process). */
const run = async (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  (await promisify(execFile)(cmd, args, { encoding: "utf8", env })).stdout;

/** The shipped images and their Fashion-MNIST test-set labels. */
const IMAGES: Record<string, string> = {
  "examples/images/ankle-boot.png": "Ankle boot",
  "examples/images/dress.png": "Dress",
  "examples/images/pullover.png": "Pullover",
  "examples/images/trouser.png": "Trouser",
};
const files = Object.keys(IMAGES);
const has = (cmd: string, args: string[]) => spawnSync(cmd, args).status === 0;
const python = "/usr/bin/python3";
const pythonReady = has(python, ["-c", "import grpc, PIL"]) && has("protoc", ["--version"]);

/** `what path: Label (...)` lines of an example's output, as {what, path, label}. */
function answers(stdout: string): { what: string; path: string; label: string }[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => /^(?:(\w+) )?(\S+): ([^(]+?)(?: \(|$)/.exec(line)!)
    .map((m) => ({ what: m[1] ?? "", path: m[2]!, label: m[3]! }));
}

describe("client examples", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let address: string;
  let gen: string;
  beforeAll(async () => {
    s = await startServer();
    address = `127.0.0.1:${s.app.grpcPort}`;
    gen = mkdtempSync(path.join(os.tmpdir(), "examples-gen-"));
    if (pythonReady) {
      execFileSync("protoc", ["-I", "proto", `--python_out=${gen}`, "proto/ranet/v1/classifier.proto"]);
      execFileSync("protoc", ["-I", "examples/kserve", `--python_out=${gen}`, "examples/kserve/grpc_predict_v2.proto"]);
    }
  });
  afterAll(() => s?.stop());

  it("ships the images the examples classify", () => {
    expect(readdirSync("examples/images").sort()).toEqual(files.map((f) => path.basename(f)).sort());
  });

  it("node (@grpc/grpc-js): unary Classify", async () => {
    const out = await run(process.execPath, ["examples/node/classify.mjs", address, ...files]);
    expect(answers(out)).toEqual(files.map((f) => ({ what: "", path: f, label: IMAGES[f] })));
  });

  it.runIf(pythonReady)("python (grpcio, generated classes): unary Classify and ClassifyStream", async () => {
    const out = await run(python, ["examples/python/classify.py", address, ...files], { ...process.env, PYTHONPATH: gen });
    const got = answers(out);
    expect(got.filter((a) => a.what === "unary")).toEqual(files.map((f) => ({ what: "unary", path: f, label: IMAGES[f] })));
    const streamed = got.filter((a) => a.what === "stream").sort((a, b) => a.path.localeCompare(b.path));
    expect(streamed).toEqual(files.map((f) => ({ what: "stream", path: f, label: IMAGES[f] })));
  });

  it.runIf(pythonReady)("KServe v2 client from the public OIP messages: ModelInfer with UINT8 pixels and BYTES images", async () => {
    const out = await run(python, ["examples/kserve/infer.py", address, "ranet-fmnist", ...files], { ...process.env, PYTHONPATH: gen });
    const got = answers(out);
    for (const what of ["uint8", "bytes"]) expect(got.filter((a) => a.what === what)).toEqual(files.map((f) => ({ what, path: f, label: IMAGES[f] })));
  });

  // grpcurl is not packaged in Debian or npm, so it cannot be installed on the CI machine: the
  // example stays (examples/grpcurl.sh) and this test runs wherever grpcurl is on the PATH
  it.runIf(has("grpcurl", ["--version"]))("grpcurl: Classify and ModelInfer with a base64 image", async () => {
    const out = await run("bash", ["examples/grpcurl.sh", address, files[0]!]);
    expect(out).toContain(`"label": "${IMAGES[files[0]!]}"`);
  });
});
