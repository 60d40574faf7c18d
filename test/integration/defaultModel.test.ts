/**
 * The default model is the same wherever the server starts: `npm start` with no flags (the
 * compiled build, on the bundled repository's repository.yaml), the Docker image and Kubernetes
 * (the same folder, no RANET_DEFAULT_MODEL) all answer a request that names no model with RANet,
 * as README shows.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { parityFixtures, repositoryOf, startServer, tensorBytes } from "../support/fixtures.js";
import { LOOPBACK_FLAGS, spawnServer } from "../support/serverProcess.js";

const tensor = { shape: [1, 28, 28], data: tensorBytes(parityFixtures()[0]!.input) };

describe("the default model", () => {
  let server: ReturnType<typeof spawnServer>;
  let address: string;
  beforeAll(async () => {
    // as `npm start` runs it: compiled first, then node dist/main.js (the Docker image runs the
    // same build); no model flag, no environment (the child gets none of RANET_*)
    const scripts = JSON.parse(readFileSync("package.json", "utf8")).scripts;
    expect(scripts.start).toBe("npm run --silent build && node dist/main.js");
    execFileSync("npm", ["run", "--silent", "build"], { stdio: ["ignore", "ignore", "inherit"] });
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RANET_")));
    server = spawnServer([...LOOPBACK_FLAGS], { env, entry: "build" });
    const { grpcPort } = await server.serving;
    address = `127.0.0.1:${grpcPort}`;
  }, 120_000);
  afterAll(() => server?.stop());

  it("is RANet with the default configuration, as README's sample output shows", async () => {
    const serving = server.lines.find((l) => l.msg === "serving");
    expect(serving.defaultModel).toBe("ranet-fmnist");
    expect(serving.models).toEqual(["msdnet-fmnist/1:READY", "ranet-fmnist/1:READY"]);
    const c = makeClients(address);
    try {
      const r = await unary(c.classifier, "Classify", { tensor });
      expect(r.model_name).toBe("ranet-fmnist");
    } finally {
      c.close();
    }
    expect(readFileSync("README.md", "utf8")).toMatch(/examples\/images\/ankle-boot\.png\tAnkle boot\tranet-fmnist\t/);
  });

  it("is the same in the Kubernetes manifests: they serve the image's repository and set no other default", () => {
    const configMap = readFileSync("deploy/base/configmap.yaml", "utf8");
    expect(configMap).toMatch(/RANET_MODEL_REPOSITORY: "\/app\/models\/repository"/);
    expect(configMap).not.toMatch(/^\s*RANET_DEFAULT_MODEL:/m);
    expect(readFileSync("Dockerfile", "utf8")).toMatch(/COPY models\/repository \.\/models\/repository/);
  });

  it("the defaultModel setting overrides a repository's repository.yaml", async () => {
    const root = repositoryOf(["first", "second"]);
    writeFileSync(path.join(root, "repository.yaml"), "defaultModel: second\n");
    const fromFile = await startServer(["--model-repository", root]);
    const overridden = await startServer(["--model-repository", root, "--default-model", "first"]);
    try {
      expect((await unary(fromFile.clients.classifier, "Classify", { tensor })).model_name).toBe("second");
      expect((await unary(overridden.clients.classifier, "Classify", { tensor })).model_name).toBe("first");
    } finally {
      await Promise.all([fromFile.stop(), overridden.stop()]);
    }
  });

  it("a bad repository.yaml stops the start with exit code 2, naming the file and key", async () => {
    const root = repositoryOf(["only"]);
    writeFileSync(path.join(root, "repository.yaml"), "defaultModel: only\nmaxBatchSize: 4\n");
    const bad = spawnServer([...LOOPBACK_FLAGS, "--model-repository", root]);
    const code = await new Promise<number | null>((resolve) => bad.proc.once("exit", resolve));
    expect(code).toBe(2);
    expect(bad.lines.map((l) => l.msg).join("\n") + bad.stderr()).toMatch(/repository\.yaml: key 'maxBatchSize'/);
  });
});
