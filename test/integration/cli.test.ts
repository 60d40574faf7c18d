import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parityFixtures, pngOf, startServer } from "../support/fixtures.js";

const run = promisify(execFile);

describe("CLI client and server reflection", () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    s = await startServer([]);
  });
  afterAll(() => s.stop());

  it("npm run classify prints label, confidence, exit and FLOPs per image, and fails on a bad file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cli-"));
    const good = path.join(dir, "item.png");
    const bad = path.join(dir, "broken.png");
    writeFileSync(good, await pngOf(parityFixtures()[0]!.pixels));
    writeFileSync(bad, "not an image");
    const args = ["--import", "tsx", "src/cli/classify.ts", "--address", `127.0.0.1:${s.app.grpcPort}`, "--all-exits"];
    const ok = await run(process.execPath, [...args, good]);
    const labels = s.app.models.current.classifier.labels.map((l) => l.replace(/[/]/g, "\\/")).join("|");
    expect(ok.stdout).toMatch(
      new RegExp(`^${good.replace(/[.]/g, "\\.")}\\t(${labels})\\tranet-fmnist\\tconfidence 0\\.\\d{3}\\texit \\d \\(\\w+\\)\\t\\d+\\.\\d\\d MMACs`),
    );
    expect(ok.stdout).toMatch(/\n {2}exit 1: /);
    const failed = await run(process.execPath, [...args, bad]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain("INVALID_ARGUMENT");
  });

  it("lists every service through server reflection", async () => {
    const def = protoLoader.loadSync("grpc/reflection/v1alpha/reflection.proto", {
      includeDirs: [path.resolve("node_modules/@grpc/reflection/build/proto")],
      keepCase: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const listServices = async (port: number): Promise<string[]> => {
      const client = new pkg.grpc.reflection.v1alpha.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const call = client.ServerReflectionInfo();
      const res = await new Promise<any>((resolve, reject) => {
        call.on("data", resolve);
        call.on("error", reject);
        call.write({ list_services: "" });
      });
      call.end();
      client.close();
      return res.list_services_response.service.map((x: { name: string }) => x.name);
    };
    const names = await listServices(s.app.grpcPort);
    for (const svc of ["ranet.v1.Classifier", "inference.GRPCInferenceService", "grpc.health.v1.Health"]) expect(names).toContain(svc);
    // the admin services live on the admin listener only
    expect(names).not.toContain("ranet.v1.BudgetAdmin");
    expect(names).not.toContain("ranet.v1.ModelAdmin");
    const adminNames = await listServices(s.app.adminPort!);
    for (const svc of ["ranet.v1.BudgetAdmin", "ranet.v1.ModelAdmin", "grpc.health.v1.Health"]) expect(adminNames).toContain(svc);
    expect(adminNames).not.toContain("ranet.v1.Classifier");
  });
});
