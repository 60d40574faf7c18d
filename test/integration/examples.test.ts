/**
 * Every client example in examples/ runs against a live server following its own written
 * instructions (the commands in its header, with this server's address and a temporary folder),
 * and prints the expected class of each shipped image (labels only: exit and FLOPs depend on the
 * controller's state); asked for a model that does not exist, each prints the status code and
 * message, no traceback or stack, and exits non-zero.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../support/fixtures.js";
import { runCommand, runCommandStatus } from "../support/runCommand.js";

/** The shipped images and their Fashion-MNIST test-set labels. */
const IMAGES: Record<string, string> = {
  "examples/images/ankle-boot.png": "Ankle boot",
  "examples/images/dress.png": "Dress",
  "examples/images/pullover.png": "Pullover",
  "examples/images/trouser.png": "Trouser",
};
const files = Object.keys(IMAGES);

/**
 * The shell commands an example's header tells a reader to run, in order: the indented lines of
 * its docstring or comment that start with mkdir, protoc, PYTHONPATH=, node or /usr/bin/python3.
 */
function writtenInstructions(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/^\/\/\s*/, "").trim())
    .filter((l) => /^(mkdir |protoc |PYTHONPATH=|node |\/usr\/bin\/python3 )/.test(l));
}

/** `what path: Label (...)` lines of an example's output, as {what, path, label}. */
function answers(stdout: string): { what: string; path: string; label: string }[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => /^(?:(\w+) )?(\S+): ([^(]+?)(?: \(|$)/.exec(line)!)
    .map((m) => ({ what: m[1] ?? "", path: m[2]!, label: m[3]! }));
}

/** What a clean failure looks like: an `error: CODE: message` line, no Python traceback, no JavaScript stack. */
function expectCleanFailure(r: { code: number | null; stdout: string; stderr: string }, code: string, mentions: string): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).toMatch(new RegExp(`^error: .*${code}`, "m"));
  expect(r.stderr).toContain(mentions);
  expect(r.stderr).not.toMatch(/Traceback|^\s+at |_InactiveRpcError|Metadata/m);
}

describe("client examples, as their instructions say", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let address: string;
  let work: string;
  /** Runs an example's written instructions (the last one edited by `lastLine`) with bash from the repository's root. */
  const follow = (file: string, lastLine: (line: string) => string = (l) => l) => {
    const steps = writtenInstructions(file).map((l) =>
      l.replaceAll("localhost:50051", address).replace(/\/tmp\/[\w-]+/g, (dir) => path.join(work, path.basename(dir))),
    );
    expect(steps.length, `${file} has no written instructions`).toBeGreaterThan(0);
    steps[steps.length - 1] = lastLine(steps[steps.length - 1]!);
    return runCommandStatus("bash", ["-c", `set -e\n${steps.join("\n")}`]);
  };
  beforeAll(async () => {
    s = await startServer(["--model-repository", "models/repository"]);
    address = `127.0.0.1:${s.app.grpcPort}`;
    work = mkdtempSync(path.join(os.tmpdir(), "examples-"));
  });
  afterAll(() => s?.stop());

  it("ships the images the examples classify", () => {
    expect(readdirSync("examples/images").sort()).toEqual(files.map((f) => path.basename(f)).sort());
  });

  it("node (@grpc/grpc-js): unary Classify; an unknown model fails cleanly", async () => {
    const ok = await follow("examples/node/classify.mjs");
    expect(ok.code, ok.stderr).toBe(0);
    expect(answers(ok.stdout)).toEqual(files.map((f) => ({ what: "", path: f, label: IMAGES[f] })));
    expectCleanFailure(await follow("examples/node/classify.mjs", (l) => `${l} --model no-such-model`), "NOT_FOUND", "no-such-model");
  });

  it("python (grpcio, generated classes): unary Classify and ClassifyStream; an unknown model fails cleanly", async () => {
    const ok = await follow("examples/python/classify.py");
    expect(ok.code, ok.stderr).toBe(0);
    const got = answers(ok.stdout);
    expect(got.filter((a) => a.what === "unary")).toEqual(files.map((f) => ({ what: "unary", path: f, label: IMAGES[f] })));
    const streamed = got.filter((a) => a.what === "stream").sort((a, b) => a.path.localeCompare(b.path));
    expect(streamed).toEqual(files.map((f) => ({ what: "stream", path: f, label: IMAGES[f] })));
    expectCleanFailure(await follow("examples/python/classify.py", (l) => `${l} --model no-such-model`), "NOT_FOUND", "no-such-model");
  });

  it("KServe v2 client from the public OIP messages: UINT8 pixels and BYTES images; unknown model and non-image fail cleanly", async () => {
    const file = "examples/kserve/infer.py";
    const ok = await follow(file);
    expect(ok.code, ok.stderr).toBe(0);
    const got = answers(ok.stdout);
    for (const what of ["uint8", "bytes"]) expect(got.filter((a) => a.what === what)).toEqual(files.map((f) => ({ what, path: f, label: IMAGES[f] })));
    expectCleanFailure(await follow(file, (l) => l.replace("ranet-fmnist", "no-such-model")), "NOT_FOUND", "no-such-model");
    const text = path.join(work, "notes.png");
    writeFileSync(text, "not an image\n");
    const bad = await follow(file, (l) => l.replace("examples/images/*.png", text));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`error: ${text}: not an image`);
    expect(bad.stderr).not.toMatch(/Traceback/);
  });

  it("REST with Python requests (KServe v2 JSON and Triton's binary data): UINT8 pixels and encoded files; unknown model and non-image fail cleanly", async () => {
    const file = "examples/rest/infer.py";
    const url = `http://127.0.0.1:${s.app.httpPort}`;
    const steps = writtenInstructions(file);
    expect(steps).toEqual(["/usr/bin/python3 examples/rest/infer.py http://localhost:8080 ranet-fmnist examples/images/*.png"]);
    const run = (line: string) => runCommandStatus("bash", ["-c", line.replace("http://localhost:8080", url)]);
    const ok = await run(steps[0]!);
    expect(ok.code, ok.stderr).toBe(0);
    const got = answers(ok.stdout);
    for (const what of ["json", "binary"]) expect(got.filter((a) => a.what === what)).toEqual(files.map((f) => ({ what, path: f, label: IMAGES[f] })));
    expectCleanFailure(await run(steps[0]!.replace("ranet-fmnist", "no-such-model")), "HTTP 404", "no-such-model");
    const text = path.join(work, "notes.png");
    writeFileSync(text, "not an image\n");
    const bad = await run(steps[0]!.replace("examples/images/*.png", text));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`error: ${text}: not an image`);
    expect(bad.stderr).not.toMatch(/Traceback/);
    const refused = await runCommandStatus("/usr/bin/python3", [file, "http://127.0.0.1:1", "ranet-fmnist", files[0]!]);
    expect(refused.stderr).toContain("error: cannot reach a server at http://127.0.0.1:1");
  });

  it("REST conformance, from the public specifications only: REST JSON, REST binary and gRPC answer alike (first 600 test images, every exit)", async () => {
    const file = "examples/rest/conformance.py";
    const ok = await follow(file, (l) => `${l.replace("localhost:8080", `127.0.0.1:${s.app.httpPort}`)} --limit 600`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("OK: 600 images, the same labels, classes, exits, FLOPs, confidences: REST JSON, REST binary, gRPC");
    expect(ok.stdout).toContain("images per fixed exit: [100, 100, 100, 100, 100, 100]");
  });

  it("REST with curl: health, metadata, a JSON and a binary request; a refused one shows the server's error and fails", async () => {
    const url = `http://127.0.0.1:${s.app.httpPort}`;
    const ok = await runCommandStatus("bash", ["examples/rest/curl.sh", url, files[1]!]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ready: HTTP 200$/m);
    const labels = [...ok.stdout.matchAll(/"name":"label","datatype":"BYTES","shape":\[1\],"data":\["([^"]+)"\]/g)].map((m) => m[1]);
    expect(labels).toEqual([IMAGES[files[1]!], IMAGES[files[1]!]]); // JSON, then binary
    const refused = await runCommandStatus("bash", ["examples/rest/curl.sh", url, files[1]!, "no-such-model"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toContain(`{"error":"model_name: 'no-such-model' is not served here`);
  });

  // grpcurl is not packaged in Debian or npm, so CI cannot install it: this one runs wherever grpcurl is on the PATH
  it.runIf(spawnSync("grpcurl", ["--version"]).status === 0)("grpcurl: Classify and ModelInfer with a base64 image", async () => {
    const out = await runCommand("bash", ["examples/grpcurl.sh", address, files[0]!]);
    expect(out).toContain(`"label": "${IMAGES[files[0]!]}"`);
  });

  it("the classify CLI (README's sample call) answers with the default model and names a refused connection plainly", async () => {
    const out = await runCommand(process.execPath, ["--import", "tsx", "src/cli/classify.ts", "--address", address, ...files]);
    expect(
      out
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t").slice(0, 3)),
    ).toEqual(files.map((f) => [f, IMAGES[f], "ranet-fmnist"]));
    const refused = await runCommandStatus(process.execPath, ["--import", "tsx", "src/cli/classify.ts", "--address", "127.0.0.1:1", files[0]!]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("cannot reach a server at 127.0.0.1:1");
    expect(refused.stderr).not.toMatch(/Resolution note:\s*$/m);
  });
});
