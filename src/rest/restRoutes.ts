import { afterIo } from "../core/afterIo.js";
import type { CallContext } from "../core/CallContext.js";
import { invalidArgument, ServingError } from "../core/errors.js";
import type { ModelRef, OipService } from "../oip/OipService.js";
import { inferRequestFromJson } from "./inferRequestJson.js";
import { inferResponseToJson, type RestInferResponse } from "./inferResponseJson.js";
import { object, only, typeOf } from "./jsonFields.js";

/** What a REST handler answers: a status and JSON, or an inference response (JSON and binary parts). */
export type RestResult = { status: number; json?: unknown } | { status: 200; infer: RestInferResponse };

/** A routed request: its body (decoded), headers, and the model its path names. */
export interface RestRequest {
  body: Buffer;
  header(name: string): string | undefined;
  model: ModelRef;
}

export type RestHandler = (req: RestRequest, ctx: CallContext) => RestResult | Promise<RestResult>;

/** A path's handlers by HTTP method; `observed` names the call in the request metrics (inference only, as over gRPC). */
export interface RestRoute {
  methods: Partial<Record<"GET" | "POST", RestHandler>>;
  observed?: string;
  model: ModelRef;
}

/** The public listener's endpoints, or the admin listener's (the repository's index, load and unload). */
export type RestRouter = (path: string) => RestRoute | undefined;

const ok = (json?: unknown): RestResult => ({ status: 200, json });
/** KServe v2 health: 200 true, 4xx false (400, as Triton). */
const health = (up: boolean): RestResult => ({ status: up ? 200 : 400 });

/**
 * The Open Inference Protocol's REST paths (KServe v2) on the OipService, with Triton's model
 * configuration, statistics and repository extensions: /v2, /v2/health/{live,ready},
 * /v2/models/{name}[/versions/{v}][/ready|/infer|/config|/stats], /v2/models/stats; on the admin
 * listener /v2/repository/index and /v2/repository/models/{name}/{load,unload}.
 */
export function restRouter(oip: OipService, listener: "public" | "admin"): RestRouter {
  return (path) => {
    const parts = path.split("/").slice(1);
    if (parts[0] !== "v2") return undefined;
    const none: ModelRef = { name: "", version: "" };
    const at = (...p: string[]) => parts.length === p.length + 1 && p.every((x, i) => parts[i + 1] === x);
    if (listener === "admin") {
      if (at("repository", "index")) return { model: none, methods: { POST: (r) => ok(oip.repositoryIndex(indexReady(r.body)).models) } };
      if (parts.length === 5 && parts[1] === "repository" && parts[2] === "models" && (parts[4] === "load" || parts[4] === "unload")) {
        const action = parts[4];
        const model = { name: segment(parts[3]!, "model name"), version: "" };
        return {
          model,
          methods: {
            POST: async (r) => {
              const change = { repository_name: "", model_name: model.name, parameters: loadParameters(r.body) };
              await (action === "load" ? oip.load(change) : oip.unload(change));
              return ok();
            },
          },
        };
      }
      return undefined;
    }
    if (parts.length === 1) return { model: none, methods: { GET: () => ok(oip.serverMetadata()) } };
    if (at("health", "live")) return { model: none, methods: { GET: () => health(true) } };
    if (at("health", "ready")) return { model: none, methods: { GET: () => health(oip.ready()) } };
    if (at("models", "stats")) return { model: none, methods: { GET: () => ok(oip.modelStatistics(none)) } };
    if (parts[1] !== "models" || parts.length < 3) return undefined;
    // /v2/models/{name}[/versions/{v}][/action]
    let rest = parts.slice(3);
    const model: ModelRef = { name: segment(parts[2]!, "model name"), version: "" };
    if (rest[0] === "versions" && rest.length >= 2) {
      model.version = segment(rest[1]!, "model version");
      rest = rest.slice(2);
    }
    if (rest.length === 0) return { model, methods: { GET: (r) => ok(oip.modelMetadata(r.model)) } };
    if (rest.length > 1) return undefined;
    switch (rest[0]) {
      case "ready":
        return { model, methods: { GET: (r) => health(oip.modelReady(r.model)) } };
      case "config":
        return { model, methods: { GET: (r) => ok(oip.modelConfig(r.model).config) } };
      case "stats":
        return { model, methods: { GET: (r) => ok(oip.modelStatistics(r.model)) } };
      case "infer":
        return {
          model,
          observed: "ModelInfer",
          methods: {
            POST: async (r, ctx) => {
              oip.checkServed(r.model); // an unknown model is 404 whatever the body
              const { req, binary } = inferRequestFromJson(r.body, r.header("inference-header-content-length"), r.model);
              await afterIo(); // as gRPC's inference calls: started after the engine's answers of this turn
              try {
                return { status: 200, infer: inferResponseToJson(await oip.infer(req, ctx), binary) };
              } catch (err) {
                throw restFieldNames(err);
              }
            },
          },
        };
      default:
        return undefined;
    }
  };
}

/**
 * The request layer names fields as the gRPC message has them; over REST the same data is an
 * input's `data` (JSON) or its binary part: an error message says so.
 */
function restFieldNames(err: unknown): unknown {
  if (!(err instanceof ServingError) || err.kind !== "invalid_argument") return err;
  const message = err.message
    .replace(/^inputs\[(\d+)\]\.contents\.\w+_contents/, "inputs[$1].data")
    .replace(/^raw_input_contents\[(\d+)\]/, "inputs[$1] binary data (binary_data_size)")
    .replace(/^raw_input_contents:/, "inputs (binary_data_size):");
  return message === err.message ? err : new ServingError("invalid_argument", message);
}

/** A path segment, percent-decoded. */
function segment(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidArgument(`path (${what})`, "valid percent-encoding", `'${s.slice(0, 64)}'`);
  }
}

/** The body of a repository index request: empty, or {"ready": bool}. */
function indexReady(body: Buffer): boolean {
  const o = jsonObject(body, "repository index request", ["ready"]);
  if (o.ready !== undefined && typeof o.ready !== "boolean") throw invalidArgument("ready", "true or false", typeOf(o.ready));
  return o.ready === true;
}

/** The body of a load or unload request: empty, or {"parameters": {...}} (refused when not empty, as over gRPC). */
function loadParameters(body: Buffer): Record<string, unknown> {
  const o = jsonObject(body, "repository load or unload request", ["parameters"]);
  if (o.parameters !== undefined && (typeof o.parameters !== "object" || o.parameters === null))
    throw invalidArgument("parameters", "a JSON object", typeOf(o.parameters));
  return (o.parameters as Record<string, unknown> | undefined) ?? {};
}

function jsonObject(body: Buffer, what: string, keys: string[]): Record<string, unknown> {
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    throw invalidArgument("body", `empty, or a JSON ${what}`, "invalid JSON");
  }
  const o = object(v, "body");
  only(o, keys, "body");
  return o;
}
