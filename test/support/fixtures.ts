import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import pino from "pino";
import sharp from "sharp";
import { type App, startApp } from "../../src/app.js";
import { type Clients, makeClients } from "../../src/cli/clients.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { LOOPBACK_FLAGS } from "./serverProcess.js";

export const MODEL_DIR = path.resolve("models/repository/ranet-fmnist/1");

export interface ParityImage {
  label: number;
  pixels: number[];
  input: number[];
  logits: number[][];
}

export function parityFixtures(dir = MODEL_DIR): ParityImage[] {
  return JSON.parse(readFileSync(path.join(dir, "fixtures/parity.json"), "utf8")).images;
}

export function pngOf(pixels: number[], side = 28): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 1 } })
    .png()
    .toBuffer();
}

export function tensorBytes(values: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i]!, i * 4);
  return b;
}

/** The temporary repositories this process made: removed when it exits. */
const temporaryRepositories: string[] = [];

/**
 * A temporary model repository holding the bundled model under each of `names` (version 1): each
 * file linked, the manifest rewritten with the folder's name. Returns the repository folder,
 * removed when the process exits.
 */
export function repositoryOf(names: readonly string[], source = MODEL_DIR): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "repo-"));
  if (temporaryRepositories.length === 0)
    process.once("exit", () => {
      for (const r of temporaryRepositories) rmSync(r, { recursive: true, force: true });
    });
  temporaryRepositories.push(root);
  for (const name of names) {
    const dir = path.join(root, name, "1");
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(source)) if (f !== "manifest.json") symlinkSync(path.join(source, f), path.join(dir, f));
    const manifest = JSON.parse(readFileSync(path.join(source, "manifest.json"), "utf8"));
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ ...manifest, name, version: "1" }));
  }
  return root;
}

/**
 * Starts the real server in-process on 127.0.0.1 with free ports, and clients for it: the bundled
 * model as a single folder, unless `flags` name a --model-repository.
 */
export async function startServer(flags: string[] = []): Promise<{ app: App; clients: Clients; config: Config; stop(): Promise<void> }> {
  const model = flags.includes("--model-repository") ? [] : ["--model-dir", MODEL_DIR];
  // no refusal by estimated wait unless a test asks for it: this server shares the test runner's busy
  // thread, and a burst of a test's requests could pass the default 500 ms estimate on a loaded CI machine
  const config = loadConfig([...LOOPBACK_FLAGS, ...model, "--log-level", "silent", "--max-queue-wait-ms", "0", ...flags], {}) as Config;
  const app = await startApp(config, pino({ level: "silent" }));
  const clients = makeClients(`127.0.0.1:${app.grpcPort}`, {}, undefined, `127.0.0.1:${app.adminPort}`);
  return {
    app,
    clients,
    config,
    stop: async () => {
      clients.close();
      await app.shutdown();
    },
  };
}

/** "OK", or "<CODE>: <details>" of a failed call. */
export function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "OK",
    (e: grpc.ServiceError) => `${status[e.code]}: ${e.details}`,
  );
}
