import type { Manifest } from "../engine/manifest.js";
import { decodeImage } from "../input/decodeImage.js";
import type { InputSpec } from "../input/InputSpec.js";
import { parseTensor, type TensorInput } from "../input/parseTensor.js";
import type { Clock } from "./Clock.js";
import { ServingError } from "./errors.js";
import type { ExitPolicy } from "./ExitPolicy.js";
import type { Pipeline, RequestOptions, Submission } from "./Pipeline.js";

export interface ModelInput {
  image?: Uint8Array;
  tensor?: TensorInput;
}

/** Protocol-independent front of the pipeline: the served model, input preparation, admission. */
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
      throw new ServingError("not_found", `model '${name}' is not served here; this server serves '${this.name}'`);
    }
    if (version && version !== this.version) {
      throw new ServingError("not_found", `model '${this.name}' version '${version}' is not served; the served version is '${this.version}'`);
    }
  }

  /** Decodes or validates one request input into the model's preprocessed tensor; `field` names it in errors. */
  async prepare(input: ModelInput, field?: string): Promise<Float32Array> {
    if (input.image !== undefined) return decodeImage(input.image, this.input, this.maxImagePixels, field ?? "image");
    if (input.tensor !== undefined) return parseTensor(input.tensor, this.input.shape, field ?? "tensor");
    throw new ServingError("invalid_argument", `${field ?? "input"}: expected an image (PNG, JPEG or WebP bytes) or a tensor of shape [${this.input.shape.join(",")}]`);
  }

  /** Converts a gRPC deadline (epoch ms or Infinity) to the pipeline clock, less a margin to reply. */
  deadlineFrom(deadline: Date | number, marginMs = 2): number | undefined {
    const epochMs = deadline instanceof Date ? deadline.getTime() : deadline;
    if (!Number.isFinite(epochMs)) return undefined;
    return this.clock.now() + (epochMs - Date.now()) - marginMs;
  }

  submit(x: Float32Array, opts: RequestOptions): Submission {
    return this.pipeline.submit(x, opts);
  }
}
