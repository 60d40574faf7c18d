import type { Cancellation } from "../core/Cancellation.js";
import type { Clock } from "../core/Clock.js";
import { echo, invalidArgument, ServingError } from "../core/errors.js";
import type { Manifest } from "../format/manifest.js";
import { decodeImage } from "../input/decodeImage.js";
import type { InputSpec } from "../input/InputSpec.js";
import { normalizePixels } from "../input/normalizePixels.js";
import { parseTensor, type TensorInput } from "../input/parseTensor.js";
import type { ExitPolicy } from "./ExitPolicy.js";
import { InferenceStatistics } from "./InferenceStatistics.js";
import type { ClassifyResult, Pipeline, RequestOptions } from "./Pipeline.js";

export interface ModelInput {
  image?: Uint8Array;
  tensor?: TensorInput;
  /** 8-bit pixels of one sample, normalised as the manifest says ("hwc" or "chw" layout). */
  pixels?: { data: Uint8Array; layout: "hwc" | "chw" };
}

/** One input of a request and the request field that carried it (named in errors). */
export interface FieldInput {
  input: ModelInput;
  field: string;
}

/** A validated request: its inputs and pipeline options. */
export interface ServeRequest {
  inputs: readonly FieldInput[];
  opts: RequestOptions;
}

/** Per-request options as every protocol carries them; 0 means unset, as in proto3. */
export interface WireOptions {
  /** 1-based exit, 0 = adaptive. */
  exit: number;
  /** Cumulative multiply-adds cap, 0 = none. */
  flopsBudget: number;
  anytime: boolean;
  returnAllExits: boolean;
  /** Priority level, 1 = highest; 0 = the default level. */
  priority?: number;
  /** The request's own timeout in ms (OIP `timeout`), 0 = none: its queue timeout when the level allows an override. */
  timeoutMs?: number;
}

/** A configured tenant as a model sees it: the budget its requests are held to, and its default priority level. */
export interface TenantPolicy {
  policy: ExitPolicy;
  priority?: number;
  /** The share of the model's first queue its requests may hold. */
  maxQueueShare?: number;
}

/** A model's priority levels (config priorityLevels; 0 = off), the level of requests that give none, and each level's queue timeout. */
export interface PriorityLevels {
  levels: number;
  defaultLevel: number;
  /** Per level (index level - 1): queue timeout in ms (0 or absent = none) and what happens then (absent = reject). */
  timeoutMs?: readonly number[];
  timeoutAction?: readonly ("reject" | "delay")[];
  /** A request's own timeout (WireOptions.timeoutMs) replaces its level's when shorter. */
  allowTimeoutOverride?: boolean;
}

/** Protocol-independent front of the pipeline: the served model, validation, input preparation, admission. */
export class Classifier {
  readonly name: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly exitFlops: readonly number[];
  readonly input: InputSpec & { name: string };

  constructor(
    readonly manifest: Manifest,
    private readonly pipeline: Pipeline,
    private readonly policy: ExitPolicy,
    private readonly clock: Clock,
    private readonly maxImagePixels: number,
    /** Request statistics of this version (Triton's ModelStatistics). */
    readonly stats: InferenceStatistics = new InferenceStatistics(),
    readonly priorities: PriorityLevels = { levels: 0, defaultLevel: 0 },
    /** The configured tenants; requests of others are held to the model's own budget. */
    private readonly tenants: ReadonlyMap<string, TenantPolicy> = new Map(),
  ) {
    this.name = manifest.name;
    this.version = manifest.version;
    this.labels = manifest.labels;
    this.exitFlops = manifest.exits.map((e) => e.flops);
    this.input = { ...manifest.input };
  }

  thresholds(): readonly number[] {
    return this.policy.thresholds();
  }

  /** NOT_FOUND unless name (and version, if given) is the served model; empty name means it. */
  checkModel(name: string, version = ""): void {
    if (name && name !== this.name) {
      throw new ServingError("not_found", `model ${echo(name)} is not served here; this server serves '${this.name}'`);
    }
    if (version && version !== this.version) {
      throw new ServingError("not_found", `model '${this.name}' version ${echo(version)} is not served; the served version is '${this.version}'`);
    }
  }

  /**
   * The validated pipeline options of a request; `fields` names the protocol's fields in errors
   * (e.g. "options.exit" or "parameters.exit"). `deadlineMs` is the call's deadline (epoch ms);
   * `tenant` the call's tenant, whose budget (and default priority) the request gets if configured.
   */
  options(o: WireOptions, deadlineMs: number, fields: { exit: string; flopsBudget: string; priority?: string }, tenant = ""): RequestOptions {
    const exits = this.exitFlops.length;
    const { levels, defaultLevel } = this.priorities;
    const t = this.tenants.get(tenant);
    const priority = o.priority || (t?.priority !== undefined && t.priority <= levels ? t.priority : 0);
    if (levels > 0 && !(Number.isInteger(priority) && priority >= 0 && priority <= levels)) {
      throw invalidArgument(fields.priority ?? "priority", `0 (the default level, ${defaultLevel}) or a level from 1 (highest) to ${levels}`, String(priority));
    }
    if (!Number.isInteger(o.exit) || o.exit < 0 || o.exit > exits) {
      throw invalidArgument(fields.exit, `0 (adaptive) or an exit from 1 to ${exits}`, String(o.exit));
    }
    if (o.flopsBudget !== 0 && !(o.flopsBudget >= this.exitFlops[0]!)) {
      throw invalidArgument(fields.flopsBudget, `0 (none) or at least ${this.exitFlops[0]} multiply-adds (the first exit's cost)`, String(o.flopsBudget));
    }
    // the budget is a cap: a fixed exit past it would either exceed it or silently turn adaptive
    if (o.exit && o.flopsBudget && this.exitFlops[o.exit - 1]! > o.flopsBudget) {
      const reach = this.exitFlops.filter((f) => f <= o.flopsBudget).length;
      throw invalidArgument(
        fields.exit,
        `an exit within ${fields.flopsBudget} (${o.flopsBudget} multiply-adds reach exit ${reach}; exit ${o.exit} costs ${this.exitFlops[o.exit - 1]})`,
        String(o.exit),
      );
    }
    return {
      flopsBudget: o.flopsBudget || undefined,
      fixedExit: o.exit ? o.exit - 1 : undefined,
      returnAllExits: o.returnAllExits,
      anytime: o.anytime,
      deadlineMs: this.deadlineFrom(deadlineMs),
      ...this.queueTimeout(levels > 0 ? priority || defaultLevel : 0, o.timeoutMs ?? 0),
      priority: levels > 0 ? priority || defaultLevel : undefined,
      policy: t?.policy,
      tenant: t ? tenant : undefined,
      tenantQueueShare: t?.maxQueueShare,
    };
  }

  /** The queue timeout of a request at `level` (0 = priorities off: none), with its own `requestMs` when the level allows an override. */
  private queueTimeout(level: number, requestMs: number): Pick<RequestOptions, "queueTimeoutMs" | "queueTimeoutAction"> {
    if (level === 0) return {};
    const p = this.priorities;
    const levelMs = p.timeoutMs?.[level - 1] ?? 0;
    const ms = p.allowTimeoutOverride && requestMs > 0 ? (levelMs > 0 ? Math.min(levelMs, requestMs) : requestMs) : levelMs;
    return ms > 0 ? { queueTimeoutMs: ms, queueTimeoutAction: p.timeoutAction?.[level - 1] ?? "reject" } : {};
  }

  /** Decodes or validates one request input into the model's preprocessed tensor; `field` names it in errors. */
  async prepare(input: ModelInput, field?: string): Promise<Float32Array> {
    if (input.image !== undefined) return decodeImage(input.image, this.input, this.maxImagePixels, field ?? "image");
    return this.prepareNow(input, field);
  }

  /** prepare for the inputs that need no decoding (tensors, pixels): at once, no promise. */
  private prepareNow(input: ModelInput, field?: string): Float32Array {
    if (input.tensor !== undefined) return parseTensor(input.tensor, this.input.shape, field ?? "tensor");
    if (input.pixels !== undefined) return normalizePixels(input.pixels.data, this.input, input.pixels.layout);
    throw new ServingError(
      "invalid_argument",
      `${field ?? "input"}: expected an image (PNG, JPEG or WebP bytes) or a tensor of shape [${this.input.shape.join(",")}]`,
    );
  }

  /**
   * Serves a request for this model: `build` validates it (options, inputs: a request it
   * refuses counts as failed in the statistics); then it is refused cheaply if the server would
   * refuse it anyway (shutting down, queue too long), its inputs are decoded and admitted
   * together. Cancelling `cancellation` withdraws every input still in the pipeline.
   */
  async serve(build: () => ServeRequest, cancellation: Cancellation): Promise<ClassifyResult[]> {
    const t0 = this.clock.now();
    try {
      const { inputs, opts } = build();
      const results = await this.run(inputs, opts, cancellation);
      let queueMs = Number.NEGATIVE_INFINITY;
      let computeMs = Number.NEGATIVE_INFINITY;
      for (const r of results) {
        queueMs = Math.max(queueMs, r.queueMs);
        computeMs = Math.max(computeMs, r.computeMs);
      }
      this.stats.succeeded(this.clock.now() - t0, results.length, queueMs, computeMs);
      return results;
    } catch (err) {
      this.stats.failed(this.clock.now() - t0);
      throw err;
    }
  }

  private async run(inputs: readonly FieldInput[], opts: RequestOptions, cancellation: Cancellation): Promise<ClassifyResult[]> {
    const refusal = this.pipeline.admissionError(opts);
    if (refusal) throw refusal;
    if (inputs.length === 1 && inputs[0]!.input.image === undefined)
      return [await this.runOne(this.prepareNow(inputs[0]!.input, inputs[0]!.field), opts, cancellation)];
    const tensors = await Promise.all(inputs.map((x) => this.prepare(x.input, x.field)));
    if (cancellation.cancelled) throw new ServingError("cancelled", "request cancelled by the client");
    const subs = tensors.map((t) => this.pipeline.submit(t, opts));
    const cancelAll = () =>
      subs.forEach((s) => {
        s.cancel();
      });
    const off = cancellation.onCancel(cancelAll);
    try {
      return await Promise.all(subs.map((s) => s.result));
    } catch (err) {
      cancelAll(); // one input failed: the others' answers would be thrown away
      throw err;
    } finally {
      off();
    }
  }

  /** One input ready at once (most calls): the same as run's general path, without its promises over the inputs. */
  private async runOne(tensor: Float32Array, opts: RequestOptions, cancellation: Cancellation): Promise<ClassifyResult> {
    if (cancellation.cancelled) throw new ServingError("cancelled", "request cancelled by the client");
    const sub = this.pipeline.submit(tensor, opts);
    const off = cancellation.onCancel(sub.cancel);
    try {
      return await sub.result;
    } finally {
      off();
    }
  }

  /** Converts a call deadline (epoch ms or Infinity) to the pipeline clock, less a margin to reply. */
  deadlineFrom(epochMs: number, marginMs = 2): number | undefined {
    if (!Number.isFinite(epochMs)) return undefined;
    return this.clock.now() + (epochMs - Date.now()) - marginMs;
  }
}
