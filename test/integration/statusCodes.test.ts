/**
 * docs/api.md's "Status codes by RPC" table against the server: every row is produced here and
 * must come out with its code, every RPC of the served protos has a row, and no scenario here is
 * missing from the table.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClients, unary } from "../../src/cli/clients.js";
import { loadProtos } from "../../src/grpc/protos.js";
import { repositoryOf, startServer, tensorBytes } from "../support/fixtures.js";

/** The table's rows as "Service/Method CODE". */
function documentedRows(): string[] {
  const text = readFileSync("docs/api.md", "utf8");
  const section = text.slice(text.indexOf("### Status codes by RPC"));
  const table = section.slice(section.indexOf("\n|"), section.indexOf("\n\n", section.indexOf("\n|") + 1));
  return table
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| RPC"))
    .map((l) => {
      const [rpc, code] = l
        .split("|")
        .map((c) => c.trim())
        .slice(1, 3);
      return `${rpc} ${code}`;
    });
}

/** Every RPC of the served services, as "Service/Method". */
function servedRpcs(): string[] {
  return Object.entries(loadProtos())
    .filter(([, def]) => typeof def === "object" && !("format" in def) && !("type" in def))
    .flatMap(([service, def]) => Object.keys(def as object).map((m) => `${service.split(".").pop()}/${m}`))
    .filter((r) => !r.startsWith("ServerReflection"));
}

const codeName = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code: number }) => status[e.code] ?? String(e.code),
  );

type Server = Awaited<ReturnType<typeof startServer>>;

describe("status codes by RPC (docs/api.md)", () => {
  let s: Server;
  const input = { shape: [1, 28, 28], data: tensorBytes(new Float32Array(784)) };
  beforeAll(async () => {
    const root = repositoryOf(["a", "fixed", "tiny", "hurried", "broken"]);
    writeFileSync(path.join(root, "hurried", "config.yaml"), "priorityLevels: 1\npriorityQueueTimeoutMs: [1]\nmaxQueueWaitMs: 0\n");
    writeFileSync(path.join(root, "fixed", "config.yaml"), "thresholds: [0.9, 0.9, 0.9, 0.9, 0.9, 0]\n");
    writeFileSync(path.join(root, "tiny", "config.yaml"), "maxQueueSize: 1\n");
    writeFileSync(path.join(root, "broken", "1", "manifest.json"), "{ not json");
    mkdirSync(path.join(root, "empty"));
    s = await startServer(["--model-repository", root, "--tenants", '[{"name":"plain"}]']);
  });
  afterAll(() => s?.stop());

  /** What produces each row, resolving with the code that came. */
  const scenarios: Record<string, () => Promise<string>> = {
    "Classifier/Classify INVALID_ARGUMENT": () => codeName(unary(s.clients.classifier, "Classify", { model: "a", tensor: { ...input, shape: [2] } })),
    "Classifier/Classify INVALID_ARGUMENT (tenant header)": () => {
      const md = new Metadata();
      md.set("x-tenant", "not a name");
      return new Promise((resolve) =>
        s.clients.classifier.Classify({ model: "a", tensor: input }, md, (err: { code: number } | null) => resolve(err ? status[err.code]! : "OK")),
      );
    },
    "Classifier/Classify NOT_FOUND": () => codeName(unary(s.clients.classifier, "Classify", { model: "nope", tensor: input })),
    "Classifier/Classify RESOURCE_EXHAUSTED": async () => {
      const burst = await Promise.all(
        Array.from({ length: 200 }, () => codeName(unary(s.clients.classifier, "Classify", { model: "tiny", tensor: input, options: { exit: 6 } }))),
      );
      return burst.find((c) => c !== "OK") ?? "OK";
    },
    "Classifier/Classify UNAVAILABLE": async () => {
      const burst = await Promise.all(
        Array.from({ length: 200 }, () => codeName(unary(s.clients.classifier, "Classify", { model: "hurried", tensor: input, options: { exit: 6 } }))),
      );
      return burst.find((c) => c !== "OK") ?? "OK";
    },
    "Classifier/ClassifyStream INVALID_ARGUMENT": () =>
      new Promise((resolve, reject) => {
        const call = s.clients.classifier.ClassifyStream();
        call.on("data", (r: { error?: { code: number } | null }) => resolve(r.error ? status[r.error.code]! : "OK"));
        call.on("error", reject);
        call.write({ request_id: "1", model: "a", tensor: { ...input, shape: [3] } });
        call.end();
      }),
    "Classifier/GetModelMetadata NOT_FOUND": () => codeName(unary(s.clients.classifier, "GetModelMetadata", { model: "nope" })),
    "GRPCInferenceService/ServerLive OK": () => codeName(unary(s.clients.inference, "ServerLive", {})),
    "GRPCInferenceService/ServerReady OK": () => codeName(unary(s.clients.inference, "ServerReady", {})),
    "GRPCInferenceService/ModelReady OK": async () => {
      const r = await unary(s.clients.inference, "ModelReady", { name: "nope" });
      return r.ready ? "ready?" : "OK";
    },
    "GRPCInferenceService/ServerMetadata OK": () => codeName(unary(s.clients.inference, "ServerMetadata", {})),
    "GRPCInferenceService/ModelMetadata NOT_FOUND": () => codeName(unary(s.clients.inference, "ModelMetadata", { name: "a", version: "9" })),
    "GRPCInferenceService/ModelInfer INVALID_ARGUMENT": () =>
      codeName(unary(s.clients.inference, "ModelInfer", { model_name: "a", inputs: [{ name: "image", datatype: "FP64", shape: [1, 1, 28, 28] }] })),
    "GRPCInferenceService/ModelInfer NOT_FOUND": () => codeName(unary(s.clients.inference, "ModelInfer", { model_name: "nope", inputs: [] })),
    "GRPCInferenceService/ModelInfer RESOURCE_EXHAUSTED": async () => {
      const req = { model_name: "tiny", inputs: [{ name: "image", datatype: "FP32", shape: [1, 1, 28, 28] }], raw_input_contents: [input.data] };
      const burst = await Promise.all(Array.from({ length: 200 }, () => codeName(unary(s.clients.inference, "ModelInfer", req))));
      return burst.find((c) => c !== "OK") ?? "OK";
    },
    "GRPCInferenceService/ModelConfig NOT_FOUND": () => codeName(unary(s.clients.inference, "ModelConfig", { name: "nope" })),
    "GRPCInferenceService/ModelStatistics NOT_FOUND": () => codeName(unary(s.clients.inference, "ModelStatistics", { name: "nope" })),
    "GRPCInferenceService/ModelStatistics INVALID_ARGUMENT": () => codeName(unary(s.clients.inference, "ModelStatistics", { version: "1" })),
    "GRPCInferenceService/RepositoryIndex OK": () => codeName(unary(s.clients.inference, "RepositoryIndex", {})),
    "GRPCInferenceService/RepositoryModelLoad INVALID_ARGUMENT": () => codeName(unary(s.clients.adminInference, "RepositoryModelLoad", { model_name: "../a" })),
    "GRPCInferenceService/RepositoryModelLoad NOT_FOUND": () => codeName(unary(s.clients.adminInference, "RepositoryModelLoad", { model_name: "nope" })),
    "GRPCInferenceService/RepositoryModelLoad FAILED_PRECONDITION": () =>
      codeName(unary(s.clients.adminInference, "RepositoryModelLoad", { model_name: "broken" })),
    "GRPCInferenceService/RepositoryModelLoad UNIMPLEMENTED": () => codeName(unary(s.clients.inference, "RepositoryModelLoad", { model_name: "a" })),
    "GRPCInferenceService/RepositoryModelUnload NOT_FOUND": () => codeName(unary(s.clients.adminInference, "RepositoryModelUnload", { model_name: "nope" })),
    "GRPCInferenceService/RepositoryModelUnload UNIMPLEMENTED": () => codeName(unary(s.clients.inference, "RepositoryModelUnload", { model_name: "a" })),
    "BudgetAdmin/GetBudget NOT_FOUND": () => codeName(unary(s.clients.budget, "GetBudget", { model: "a", tenant: "nope" })),
    "BudgetAdmin/GetBudget FAILED_PRECONDITION": () => codeName(unary(s.clients.budget, "GetBudget", { model: "a", tenant: "plain" })),
    "BudgetAdmin/SetBudget INVALID_ARGUMENT": () => codeName(unary(s.clients.budget, "SetBudget", { model: "a", target_fraction: 1.5 })),
    "BudgetAdmin/SetBudget FAILED_PRECONDITION": () => codeName(unary(s.clients.budget, "SetBudget", { model: "fixed", target_fraction: 0.5 })),
    "BudgetAdmin/SetBudget NOT_FOUND": () => codeName(unary(s.clients.budget, "SetBudget", { model: "nope", target_fraction: 0.5 })),
    "BudgetAdmin/GetBudgetTable NOT_FOUND": () => codeName(unary(s.clients.budget, "GetBudgetTable", { model: "nope" })),
    "ModelAdmin/GetModel NOT_FOUND": () => codeName(unary(s.clients.modelAdmin, "GetModel", { model: "nope" })),
    "ModelAdmin/ReloadModel INVALID_ARGUMENT": () => codeName(unary(s.clients.modelAdmin, "ReloadModel", { model: "a", model_dir: "/etc" })),
    "ModelAdmin/ReloadModel FAILED_PRECONDITION": () => codeName(unary(s.clients.modelAdmin, "ReloadModel", { model: "a", model_dir: "empty" })),
    "ModelAdmin/ReloadModel NOT_FOUND": () => codeName(unary(s.clients.modelAdmin, "ReloadModel", { model: "nope", model_dir: "" })),
    "Health/Check NOT_FOUND": () => codeName(unary(s.clients.health, "Check", { service: "nope" })),
    "Health/Watch OK": () =>
      new Promise((resolve, reject) => {
        const call = s.clients.health.Watch({ service: "nope" });
        call.on("data", (r: { status: string }) => {
          call.cancel();
          resolve(r.status === "SERVICE_UNKNOWN" ? "OK" : r.status);
        });
        call.on("error", (e: { code: number }) => e.code !== status.CANCELLED && reject(e));
      }),
  };

  it("lists every served RPC, and exactly the rows produced here", () => {
    const rows = documentedRows();
    expect(new Set(rows.map((r) => r.split(" ")[0]))).toEqual(new Set(servedRpcs()));
    // a row may have several scenarios ("RPC CODE (what)")
    expect([...rows].sort()).toEqual([...new Set(Object.keys(scenarios).map((k) => k.replace(/ \(.*\)$/, "")))].sort());
  });

  it.each(Object.keys(scenarios))("%s", async (row) => {
    expect(await scenarios[row]!()).toBe(row.split(" ")[1]);
  });

  it("answers UNIMPLEMENTED for the admin services on the inference port", async () => {
    const pub = makeClients(`127.0.0.1:${s.app.grpcPort}`, {}, undefined, `127.0.0.1:${s.app.grpcPort}`);
    try {
      expect(await codeName(unary(pub.budget, "GetBudget", {}))).toBe("UNIMPLEMENTED");
      expect(await codeName(unary(pub.modelAdmin, "GetModel", {}))).toBe("UNIMPLEMENTED");
    } finally {
      pub.close();
    }
  });
});
