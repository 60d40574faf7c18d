import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./ConfigError.js";
import { checkPriorities, PRIORITY_FIELDS } from "./priorityFields.js";
import { bool, boolOr, int, jsonList, list } from "./schemaHelpers.js";
import type { TenantConfig } from "./tenantSchema.js";
import { tenantSchema } from "./tenantSchema.js";

export type { TenantConfig };
export { bool, ConfigError, checkPriorities, int };

/** Every setting: key, schema, default and the help line. Flags are --kebab-case, env RANET_SNAKE_CASE. */
export const FIELDS = {
  host: [z.string().min(1), "0.0.0.0", "address the gRPC and REST listeners bind"],
  port: [int(0, 65535), 50051, "gRPC port (0 = any free port)"],
  adminHost: [
    z.string().min(1),
    "127.0.0.1",
    "address of the admin listener, gRPC and REST (BudgetAdmin, ModelAdmin, the repository, health); keep it on loopback or behind a NetworkPolicy: it can change the budget and load models",
  ],
  adminPort: [int(0, 65535), 50052, "port of the admin gRPC listener (0 = any free port)"],
  httpPort: [int(0, 65535), 8080, "port of the REST (HTTP/1.1) Open Inference Protocol on host (0 = any free port)"],
  adminHttpPort: [int(0, 65535), 8082, "port of the admin listener's REST endpoints (the repository's index, load, unload) on adminHost (0 = any free port)"],
  httpEnabled: [bool, true, "serve the Open Inference Protocol over REST (httpPort, and adminHttpPort with adminEnabled) beside gRPC"],
  httpRequestTimeoutMs: [int(1000), 30_000, "time a REST client has to send a whole request, headers and body, in ms (slow senders are cut off with 408)"],
  httpKeepAliveTimeoutMs: [int(0), 65_000, "how long an idle REST keep-alive connection stays open, in ms (longer than a load balancer's idle timeout)"],
  adminEnabled: [bool, true, "serve the admin listener (false: budget and model version change only by config, SIGHUP and restart)"],
  adminTlsCertFile: [
    z.string().min(1).optional(),
    undefined,
    "PEM certificate chain of the admin listener: serve it (gRPC and REST) over TLS (with adminTlsKeyFile)",
  ],
  adminTlsKeyFile: [z.string().min(1).optional(), undefined, "PEM private key of the admin listener's certificate"],
  adminTlsClientCaFile: [z.string().min(1).optional(), undefined, "PEM CA bundle: the admin listener requires and verifies client certificates (mutual TLS)"],
  metricsHost: [z.string().min(1), "0.0.0.0", "address of the Prometheus /metrics endpoint"],
  metricsPort: [int(0, 65535), 9464, "port of the Prometheus /metrics endpoint (0 = any free port)"],
  metricsEnabled: [bool, true, "serve Prometheus metrics"],
  modelRepository: [
    z.string().min(1),
    "models/repository",
    "model repository: DIR/<model-name>/<version>/ holds an exported model (manifest.json and its files), DIR/<model-name>/config.yaml (optional) that model's settings; SIGHUP rescans it",
  ],
  modelDir: [
    z.string().min(1).optional(),
    undefined,
    "one model folder (manifest.json and the ONNX stages) served as a repository of one, instead of modelRepository; SIGHUP reloads it",
  ],
  modelRoot: [
    z.string().min(1).optional(),
    undefined,
    "folder that ReloadModel may load a model_dir from (relative values resolve against it); default: the repository, or modelDir's parent",
  ],
  modelControlMode: [
    z.enum(["none", "explicit"]),
    "none",
    "none: serve every model the repository holds at start; explicit: serve only the models named by loadModel and loaded with RepositoryModelLoad",
  ],
  loadModel: [list(z.string().min(1)), [], "with modelControlMode explicit, models to load at start (comma-separated, or repeat the flag)"],
  defaultModel: [
    z.string().min(1).optional(),
    undefined,
    "the model a request with an empty model name goes to (and BudgetAdmin's default); default: the repository's repository.yaml, else the only model, else the first by name",
  ],
  strictModelStart: [
    bool,
    false,
    "a model that fails to load at start stops the start (false: it is marked UNAVAILABLE with its reason while the others serve)",
  ],
  executionProviders: [
    list(z.enum(["cpu", "cuda"])).refine((a) => a.length > 0, "expected at least one of cpu, cuda"),
    ["cpu"],
    "onnxruntime execution providers in order of preference, e.g. cuda,cpu",
  ],
  intraOpThreads: [
    int(0, 256),
    1,
    "onnxruntime threads per operator in each stage session (0 = onnxruntime's default, one per core). Keep engineWorkers x intraOpThreads within the cores (docs/performance.md measures the choice)",
  ],
  interOpThreads: [int(0, 256), 0, "onnxruntime threads across operators (0 = default)"],
  engineWorkers: [
    int(0, 256),
    0,
    "engine worker threads running stage batches, shared by every model; each holds the sessions of every loaded model (0 = automatic: on CPU one per usable CPU, read from the container's cgroup quota; on CUDA 1). Memory grows with workers and models: npm run bench:memory measures it (docs/operations.md)",
  ],
  engineWorkerBatchScheduling: [
    bool,
    false,
    "run the engine worker threads under Linux's SCHED_BATCH scheduling policy (set with util-linux chrt, no privilege needed): the same share of the CPU, but a worker woken by a batch does not preempt the thread that handed it over, the main thread, which then goes on reading and answering. Under a flood on a machine whose cores the engine shares with the I/O, the main thread's stalls in hand-offs shrink and a quiet model's answers come sooner; at ordinary load it changes nothing measurable (docs/performance.md). Where it cannot be set (not Linux, no chrt) the server logs why and the workers run under the normal policy",
  ],
  engineWorkerSlots: [
    int(1, 8),
    2,
    "stage batches each engine worker holds at once: the running one and those waiting in it. 2 keeps a worker busy while the main thread answers a batch; 1 keeps a lower priority level's batch from waiting in a worker ahead of a higher level's request that arrives after it (docs/api.md, Priority levels, measures both)",
  ],
  maxBatchSize: [int(1, 4096), 32, "largest batch a stage runs"],
  fusedPath: [
    bool,
    true,
    "run requests forced to the last exit through the model's fused whole-network graph (manifest 'fused'), one session instead of one per stage; same answers",
  ],
  exitDecisionsInEngine: [
    boolOr("auto"),
    "auto",
    "decide the exits after the first in the engine worker: a batch of the second stage runs through the stages its requests need where their tensors are, thresholds read from memory the main thread shares, and only the answers come back (less work on the main thread per answer: docs/architecture.md); the first exit is still decided on the main thread, and requests with options.anytime go stage by stage. The budget controller keeps its guarantee either way, but above half of the last exit's FLOPs it spends less of the budget with decisions in the engine (docs/budget.md). auto: in the engine for fixed thresholds, the offline table, and a controller whose target is at most half of the last exit's FLOPs; on the main thread for a controller above that; true: always in the engine; false: always on the main thread",
  ],
  maxQueueDelayMs: [
    z.coerce.number().min(0).max(10_000),
    2,
    "while every engine worker is busy, a partial stage batch leaves for a worker's next slot once its first request has waited this long, in ms, and not before that worker's running batch is due to end (estimated from the measured batch times: it could not start sooner, and what arrives meanwhile joins it); with dispatchWhenIdle an idle worker takes what waits at once",
  ],
  dispatchWhenIdle: [
    bool,
    true,
    "an idle engine worker takes the deepest waiting batch at once, full or not (work-conserving batching: a lightly loaded server answers without waiting for a batch to fill); false: batches wait up to maxQueueDelayMs to fill",
  ],
  maxQueueSize: [int(1), 2048, "requests that may wait for the first stage; more are refused with RESOURCE_EXHAUSTED"],
  tenantHeader: [
    z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "expected a lowercase gRPC metadata key"),
    "x-tenant",
    "gRPC metadata key (over REST, the HTTP header) whose value names a request's tenant (config tenants); with mutual TLS the client certificate names it instead (subject CN, else its first URI SAN) and the header is ignored",
  ],
  tenants: [
    jsonList(tenantSchema),
    [],
    "tenants with budgets of their own: a YAML list of {name, budgetTarget (a fraction of each model's last exit, or multiply-adds), budgetTargets ({model: target}, per model), priority (a level, for requests that give none), maxQueueShare (of each model's maxQueueSize its waiting requests may hold)}, or the same as JSON; requests of other tenants use the model's own budget",
  ],
  ...PRIORITY_FIELDS,
  maxStreamInflight: [
    int(1, 65536),
    128,
    "ClassifyStream items one stream may have in the server at once; past it the server stops reading that stream (HTTP/2 flow control slows the writer) instead of refusing items",
  ],
  maxQueueWaitMs: [
    z.coerce.number().min(0).max(600_000),
    500,
    "refuse a request with RESOURCE_EXHAUSTED when the batches queued ahead of it would take longer than this, in ms, at the measured batch times (0 = only maxQueueSize bounds the queue)",
  ],
  loadAdaptive: [
    bool,
    false,
    "lower the FLOPs target while the first stage's queue is long (estimated wait over half of maxQueueWaitMs), so more requests exit early, and raise it back when the queue is short",
  ],
  loadAdaptiveMinFactor: [z.coerce.number().gt(0).max(1), 0.3, "with loadAdaptive, the lowest FLOPs target as a fraction of the operator's target"],
  budgetTarget: [z.coerce.number().positive(), 0.5, "FLOPs target per request: a fraction of the last exit's FLOPs if <= 1, else multiply-adds"],
  controller: [bool, true, "adapt the thresholds online to hold the budget target (false = offline table thresholds)"],
  controllerGain: [
    z.coerce.number().positive().max(20),
    0.5,
    "controller integral gain: knob step in logit units per last-exit FLOPs of cost error (chosen on the validation split with npm run tune:controller)",
  ],
  controllerMargin: [z.coerce.number().min(0).max(0.5), 0.01, "the controller aims this fraction under the target"],
  controllerWindow: [
    int(8, 100_000),
    224,
    "requests whose first-exit confidence the controller's feed-forward term reads the traffic's difficulty from (shorter follows shifts sooner, longer jitters less; chosen on the validation split with npm run tune:controller)",
  ],
  exitScore: [
    z.enum(["auto", "max-softmax", "temperature", "ensemble", "ensemble-temperature"]),
    "auto",
    "exit confidence rule: max-softmax (the paper), temperature (per-exit, fitted on the validation split), ensemble (mean softmax of the exits run so far), ensemble-temperature, or auto (best on the validation split)",
  ],
  thresholds: [
    list(z.coerce.number().min(0).max(1)).optional(),
    undefined,
    "fixed confidence threshold per exit, comma-separated (disables the budget table and controller)",
  ],
  tlsCertFile: [z.string().min(1).optional(), undefined, "PEM certificate chain of the server: serve gRPC and REST over TLS (with tlsKeyFile)"],
  tlsKeyFile: [z.string().min(1).optional(), undefined, "PEM private key of the server certificate"],
  tlsClientCaFile: [z.string().min(1).optional(), undefined, "PEM CA bundle: require and verify client certificates (mutual TLS)"],
  keepaliveTimeMs: [int(1000), 60_000, "interval of server keepalive pings on idle connections, in ms"],
  keepaliveTimeoutMs: [int(100), 20_000, "time to wait for a keepalive ping ack before closing the connection, in ms"],
  maxMessageBytes: [
    int(1024),
    4 * 1024 * 1024,
    "largest gRPC message accepted or sent, and largest REST request body (before and after decompression), in bytes",
  ],
  http2ConnectionWindowBytes: [
    int(65_535, 2_147_483_647),
    16 * 1024 * 1024,
    "HTTP/2 flow-control window of each client connection, in bytes: request data a client may send on one connection ahead of the server reading it (HTTP/2's own 65535 throttles a busy connection to one window per round trip, holding requests in the client where admission cannot see them)",
  ],
  maxImagePixels: [int(1), 16_777_216, "largest decoded image (width*height) accepted; guards against decompression bombs"],
  shutdownGraceMs: [int(0), 10_000, "time admitted requests get to finish after SIGTERM/SIGINT, in ms"],
  warmup: [bool, true, "run every stage once at start before reporting SERVING"],
  logLevel: [z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]), "info", "log level"],
} as const satisfies Record<string, readonly [z.ZodType, unknown, string]>;

/** Flags that may be given more than once (their values join as a comma-separated list). */
const REPEATABLE = { loadModel: true } as const;

export type Fields = typeof FIELDS;
export type Config = Readonly<{ [K in keyof Fields]: z.output<Fields[K][0]> }>;

const schema = z.object(Object.fromEntries(Object.entries(FIELDS).map(([k, [s, d]]) => [k, d === undefined ? s : (s as z.ZodType).default(d)]))).strict();

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `RANET_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export function helpText(): string {
  const lines = [
    "ranet-serving: gRPC RANet inference server",
    "",
    "usage: npm start -- [--config file.yaml] [--key value ...]",
    "",
    "Each setting comes from (later wins): default, the YAML file (--config or RANET_CONFIG,",
    "camelCase keys), the environment (RANET_...), the command line.",
    "",
  ];
  for (const [k, [, def, help]] of Object.entries(FIELDS)) {
    lines.push(`  --${kebab(k)}  (${envName(k)}, yaml ${k})`);
    lines.push(`      ${help}${def === undefined ? "" : `; default ${Array.isArray(def) ? def.join(",") : String(def)}`}`);
  }
  lines.push("  --config FILE  (RANET_CONFIG)", "      YAML file with any of the keys above", "  --help", "      this text");
  return lines.join("\n");
}

/** Parses flags, environment and YAML into a validated, frozen Config. The only reader of process.env. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config | "help" {
  const flags: Record<string, string> = {};
  let configFile = env.RANET_CONFIG;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return "help";
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument '${arg}'; settings are --key value (see --help)`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    if (name === "config") {
      configFile = value;
      continue;
    }
    const key = Object.keys(FIELDS).find((k) => kebab(k) === name);
    if (!key) throw new ConfigError(`unknown flag --${name} (see --help)`);
    flags[key] = key in REPEATABLE && flags[key] !== undefined ? `${flags[key]},${value}` : value;
  }
  let fromFile: Record<string, unknown> = {};
  if (configFile) {
    try {
      fromFile = (parseYaml(readFileSync(configFile, "utf8")) as Record<string, unknown>) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${configFile}: ${(err as Error).message}`);
    }
    if (typeof fromFile !== "object" || Array.isArray(fromFile)) throw new ConfigError(`config file ${configFile}: expected a mapping of settings`);
  }
  const fromEnv: Record<string, string> = {};
  for (const k of Object.keys(FIELDS)) {
    const v = env[envName(k)];
    if (v !== undefined) fromEnv[k] = v;
  }
  const merged = { ...fromFile, ...fromEnv, ...flags };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0] ?? "");
    const where = key in flags ? `flag --${kebab(key)}` : key in fromEnv ? `env ${envName(key)}` : configFile ? `${configFile}` : "default";
    const got = key in merged ? ` (got ${JSON.stringify(merged[key])})` : "";
    throw new ConfigError(`config key '${key}' from ${where}: ${issue.message}${got}`);
  }
  const cfg = parsed.data as Record<string, unknown>;
  if (Boolean(cfg.tlsCertFile) !== Boolean(cfg.tlsKeyFile)) {
    throw new ConfigError("config keys 'tlsCertFile' and 'tlsKeyFile' go together: set both to serve TLS, or neither");
  }
  if (cfg.loadAdaptive && !((cfg.maxQueueWaitMs as number) > 0)) {
    throw new ConfigError("config key 'loadAdaptive' needs 'maxQueueWaitMs' > 0 (the queueing time it steers by)");
  }
  if (cfg.tlsClientCaFile && !cfg.tlsCertFile) throw new ConfigError("config key 'tlsClientCaFile' needs 'tlsCertFile' and 'tlsKeyFile' (mutual TLS is TLS)");
  if (Boolean(cfg.adminTlsCertFile) !== Boolean(cfg.adminTlsKeyFile)) {
    throw new ConfigError("config keys 'adminTlsCertFile' and 'adminTlsKeyFile' go together: set both to serve the admin listener over TLS, or neither");
  }
  if (cfg.modelDir && ("modelRepository" in flags || "modelRepository" in fromEnv || "modelRepository" in fromFile)) {
    throw new ConfigError("config keys 'modelDir' and 'modelRepository' exclude each other: serve one model folder, or a repository");
  }
  checkPriorities(cfg, "config key");
  const seen = new Set<string>();
  for (const t of cfg.tenants as TenantConfig[]) {
    if (seen.has(t.name)) throw new ConfigError(`config key 'tenants': tenant '${t.name}' is configured twice`);
    seen.add(t.name);
  }
  if ((cfg.loadModel as string[]).length > 0 && cfg.modelControlMode !== "explicit") {
    throw new ConfigError("config key 'loadModel' needs 'modelControlMode' explicit (mode none serves every model the repository holds)");
  }
  if (cfg.adminTlsClientCaFile && !cfg.adminTlsCertFile) {
    throw new ConfigError("config key 'adminTlsClientCaFile' needs 'adminTlsCertFile' and 'adminTlsKeyFile' (mutual TLS is TLS)");
  }
  return Object.freeze(parsed.data) as Config;
}
